"""HTTP verification-source clients against the simulator served over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from idp.realname.sources import (
    Authority,
    AuthorityRejected,
    AuthorityUnavailable,
    DocumentType,
    Endpoint,
    InvalidCheckRequest,
    Verdict,
    http_sources,
)
from simulator import create_app
from tests.simulator.server import CLIENT_ID, KEY, READ_TIMEOUT, SLOW_SECONDS, Running, running

P01 = ("张伟", "110101198503120017")
CARD01 = "6217000000000000012"


@pytest.fixture(scope="module")
def simulator() -> Iterator[Running]:
    app = create_app(key=KEY, client_id=CLIENT_ID, slow_seconds=SLOW_SECONDS)
    with running(app) as server:
        yield server


@pytest.fixture(autouse=True)
def reset_modes(simulator: Running) -> Iterator[None]:
    yield
    simulator.sim.modes.set("all", "ok")


@pytest.fixture
def endpoint(simulator: Running) -> Endpoint:
    return Endpoint(simulator.url, CLIENT_ID, KEY, connect_timeout=0.5, read_timeout=READ_TIMEOUT)


@pytest.fixture
def sources(endpoint: Endpoint):  # type: ignore[no-untyped-def]
    return http_sources(endpoint)


@pytest.mark.parametrize(("name", "kind", "number", "verdict"), [
    ("张伟", DocumentType.RESIDENT_ID, "110101198503120017", Verdict.MATCH),
    (" 张伟 ", DocumentType.RESIDENT_ID, "110101198503120017", Verdict.MATCH),
    ("张三", DocumentType.RESIDENT_ID, "110101198503120017", Verdict.NO_MATCH),
    ("张伟", DocumentType.RESIDENT_ID, "110101198503120025", Verdict.NO_MATCH),
    ("王芳", DocumentType.RESIDENT_ID, "31010119900521002x", Verdict.MATCH),
    ("吴刚", DocumentType.RESIDENT_ID, "370202194501010713", Verdict.DECEASED),
    ("徐丽", DocumentType.RESIDENT_ID, "50010319860808082X", Verdict.CANCELLED),
    ("吴刚", DocumentType.RESIDENT_ID, "110101198503120017", Verdict.NO_MATCH),
    ("陈家明", DocumentType.HK_MACAO_RESIDENCE_PERMIT, "810000198402290117", Verdict.MATCH),
    ("陈家明", DocumentType.RESIDENT_ID, "810000198402290117", Verdict.NO_MATCH),
    ("何敏仪", DocumentType.HK_MACAO_RESIDENCE_PERMIT, "820000198904200347", Verdict.MATCH),
    ("林志豪", DocumentType.TAIWAN_RESIDENCE_PERMIT, "830000198208250158", Verdict.MATCH),
    ("john  SMITH", DocumentType.FOREIGN_PERMANENT_RESIDENCE, "911840198007040010",
     Verdict.MATCH),
])
def test_population_registry_verdicts(sources, name, kind, number, verdict):
    result = sources.population.verify(name, kind, number)
    assert result.verdict is verdict
    assert result.authority is Authority.POPULATION_REGISTRY
    assert result.reference.startswith("SIM-POP-")


@pytest.mark.parametrize(("check", "args", "verdict"), [
    ("carrier", ("three_element", *P01, "13800138001"), Verdict.MATCH),
    ("carrier", ("three_element", *P01, "13800138002"), Verdict.NO_MATCH),
    ("carrier", ("three_element", "黄强", "610113198307170512", "13800138001"), Verdict.NO_MATCH),
    ("carrier", ("three_element", "李四", P01[1], "13800138001"), Verdict.NO_MATCH),
    ("bank", ("four_element", *P01, CARD01, "13800138001"), Verdict.MATCH),
    ("bank", ("four_element", *P01, "6217000000000000020", "13800138001"), Verdict.NO_MATCH),
    ("bank", ("four_element", "周婷", "320102199704020629", "6217000000000000095",
              "13800138009"), Verdict.NO_MATCH),
    ("bank", ("four_element", "周婷", "320102199704020629", "6217000000000000095",
              "13700137009"), Verdict.MATCH),
    ("bank", ("four_element", "何欣", "440106199909091327", "6217000000000000160",
              "13800138016"), Verdict.NO_MATCH),
    ("social_security", ("card", *P01, "A10000001"), Verdict.MATCH),
    ("social_security", ("card", *P01, "a10000001"), Verdict.MATCH),
    ("social_security", ("card", *P01, "A10000002"), Verdict.NO_MATCH),
    ("provident_fund", ("account", *P01, "310000000013"), Verdict.MATCH),
    ("provident_fund", ("account", *P01, "310000000026"), Verdict.NO_MATCH),
    ("driving_licence", ("file_number", *P01, "110000000007"), Verdict.MATCH),
    ("driving_licence", ("file_number", *P01, "110000000014"), Verdict.NO_MATCH),
    ("driving_licence", ("file_number", "何欣", "440106199909091327", "110000000112"),
     Verdict.NO_MATCH),
])
def test_element_check_verdicts(sources, check, args, verdict):
    method, *values = args
    result = getattr(getattr(sources, check), method)(*values)
    assert result.verdict is verdict
    assert result.authority.value == check
    assert result.matched is (verdict is Verdict.MATCH)


# One call per port, used to prove every authority maps failures the same way.
CALLS = [
    (Authority.POPULATION_REGISTRY, lambda s: s.population.verify(P01[0], "resident_id", P01[1])),
    (Authority.CARRIER, lambda s: s.carrier.three_element(*P01, "13800138001")),
    (Authority.BANK, lambda s: s.bank.four_element(*P01, CARD01, "13800138001")),
    (Authority.SOCIAL_SECURITY, lambda s: s.social_security.card(*P01, "A10000001")),
    (Authority.PROVIDENT_FUND, lambda s: s.provident_fund.account(*P01, "310000000013")),
    (Authority.DRIVING_LICENCE, lambda s: s.driving_licence.file_number(*P01, "110000000007")),
    (Authority.FACE, lambda s: s.face.compare("PH-unknown", b"\xff\xd8\xff\xe0 jpeg")),
]


@pytest.mark.parametrize(("authority", "call"), CALLS, ids=[a.value for a, _ in CALLS])
def test_down_authority_is_unavailable_and_named(simulator, sources, authority, call):
    requests.post(f"{simulator.url}/_sim/mode",
                  json={"authority": authority.value, "mode": "down"}, timeout=2)
    with pytest.raises(AuthorityUnavailable) as info:
        call(sources)
    assert info.value.authority is authority
    assert info.value.code == "unavailable"


@pytest.mark.parametrize(("authority", "call"), CALLS[:3], ids=[a.value for a, _ in CALLS[:3]])
def test_slow_authority_times_out_within_read_timeout(simulator, sources, authority, call):
    simulator.sim.modes.set(authority.value, "slow")
    started = time.monotonic()
    with pytest.raises(AuthorityUnavailable) as info:
        call(sources)
    assert time.monotonic() - started < SLOW_SECONDS
    assert (info.value.authority, info.value.code) == (authority, "timeout")


def test_other_authorities_keep_working_while_one_is_down(simulator, sources):
    simulator.sim.modes.set("carrier", "down")
    assert sources.bank.four_element(*P01, CARD01, "13800138001").matched


@pytest.mark.parametrize(("name", "number", "error_code"), [
    ("马超", "210102198707071157", "timeout"),  # magic record: slow everywhere
    ("郭敏", "110105199606061267", "unavailable"),  # magic record: 503 everywhere
])
def test_magic_records_fail_their_checks(sources, name, number, error_code):
    with pytest.raises(AuthorityUnavailable) as info:
        sources.carrier.three_element(name, number, "13800138014")
    assert info.value.code == error_code


def test_unreachable_authority_is_unavailable():
    with socket_closed_port() as port:
        sources = http_sources(Endpoint(f"http://127.0.0.1:{port}", CLIENT_ID, KEY,
                                        connect_timeout=0.5, read_timeout=0.5))
        with pytest.raises(AuthorityUnavailable) as info:
            sources.carrier.three_element(*P01, "13800138001")
    assert info.value.code == "unreachable"


def socket_closed_port():  # type: ignore[no-untyped-def]
    """A loopback port that nothing listens on."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def closed() -> Iterator[int]:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        yield port

    return closed()


@pytest.mark.parametrize(("client_id", "key", "code"), [
    (CLIENT_ID, "wrong-key", "bad_signature"),
    ("someone-else", KEY, "unknown_client"),
])
def test_badly_signed_requests_are_rejected(simulator, client_id, key, code):
    sources = http_sources(Endpoint(simulator.url, client_id, key, read_timeout=READ_TIMEOUT))
    with pytest.raises(AuthorityRejected) as info:
        sources.population.verify(*P01[:1], DocumentType.RESIDENT_ID, P01[1])
    assert (info.value.authority, info.value.code) == (Authority.POPULATION_REGISTRY, code)


@pytest.mark.parametrize(("call", "message"), [
    (lambda s: s.carrier.three_element("", P01[1], "13800138001"), "name"),
    (lambda s: s.bank.four_element(*P01, "  ", "13800138001"), "card_number"),
    (lambda s: s.population.verify(P01[0], "passport", P01[1]), "document type"),
    (lambda s: s.face.compare("", b"\x89PNG\r\n\x1a\n"), "photo_ref"),
    (lambda s: s.face.compare("PH-x", b""), "empty"),
    (lambda s: s.face.compare("PH-x", b"GIF89a..."), "JPEG or PNG"),
])
def test_bad_input_is_refused_before_any_call(simulator, sources, call, message):
    simulator.sim.modes.set("all", "down")  # any call reaching the simulator would be 503
    with pytest.raises(InvalidCheckRequest, match=message):
        call(sources)


@pytest.mark.parametrize(("url", "ok"), [
    ("https://registry.example.gov.cn/api", True),
    ("http://127.0.0.1:5900", True),
    ("http://localhost:5900", True),
    ("http://registry.example.gov.cn/api", False),
    ("ftp://127.0.0.1", False),
    ("registry.example.gov.cn", False),
])
def test_endpoint_requires_https_outside_loopback(url, ok):
    if ok:
        assert Endpoint(url, "c", "k").base_url == url
    else:
        with pytest.raises(ValueError):
            Endpoint(url, "c", "k")


def test_logs_carry_no_personal_data(sources, caplog):
    caplog.set_level("DEBUG")
    sources.bank.four_element(*P01, CARD01, "13800138001")
    text = caplog.text
    assert "1101**********0017" in text
    for secret in (P01[0], P01[1], CARD01, "13800138001"):
        assert secret not in text
