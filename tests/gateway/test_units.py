"""The gateway's parts on their own: the legacy-side verifier, settings, the return path,
the session store (no nginx, no platform)."""

from __future__ import annotations

import time

import pytest
from idp_gateway.app import safe_next
from idp_gateway.config import ConfigError, GatewayConfig
from idp_gateway.signing import SignatureError, sign_identity, verify_identity
from idp_gateway.store import Store, token_key

KEY = b"k" * 32
OTHER = b"o" * 32
NOW = 1_800_000_000


def signed(**overrides: object) -> dict[str, str]:
    values: dict[str, object] = dict(sub="s-1", name="张*", acr="urn:idp:acr:realname:2",
                                     amr=["pwd", "sms"], now=NOW)
    values.update(overrides)
    return sign_identity(KEY, **values)  # type: ignore[arg-type]


def test_verify_round_trip_and_wsgi_environ_keys() -> None:
    headers = signed()
    who = verify_identity(headers, KEY, now=NOW + 1)
    assert (who.sub, who.name, who.acr, who.amr, who.level) == (
        "s-1", "张*", "urn:idp:acr:realname:2", ("pwd", "sms"), 2)
    environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    assert verify_identity(environ, KEY, now=NOW).sub == "s-1"
    lower = {k.lower(): v for k, v in headers.items()}
    assert verify_identity(lower, KEY, now=NOW).name == "张*"


def test_rotated_keys_are_accepted_during_rotation() -> None:
    assert verify_identity(signed(), [OTHER, KEY], now=NOW).sub == "s-1"
    with pytest.raises(SignatureError, match="bad signature"):
        verify_identity(signed(), [OTHER], now=NOW)


@pytest.mark.parametrize(("change", "now", "message"), [
    ({"X-Idp-Sub": "someone-else"}, NOW, "bad signature"),
    ({"X-Idp-Acr": "urn:idp:acr:realname:3"}, NOW, "bad signature"),
    ({"X-Idp-Amr": "pwd sms x509"}, NOW, "bad signature"),
    ({"X-Idp-Name": "%E6%9D%8E%2A"}, NOW, "bad signature"),
    ({"X-Idp-Time": str(NOW + 1)}, NOW, "bad signature"),
    ({"X-Idp-Signature": "v1=" + "0" * 64}, NOW, "bad signature"),
    ({"X-Idp-Signature": ""}, NOW, "bad signature"),
    ({"X-Idp-Time": "12x"}, NOW, "X-Idp-Time is malformed"),
    ({"X-Idp-Time": "-5"}, NOW, "X-Idp-Time is malformed"),
    ({"X-Idp-Sub": "é"}, NOW, "bad signature"),
    ({"X-Idp-Sub": "x" * 2000}, NOW, "X-Idp-Sub is malformed"),
    ({}, NOW + 31, "signature expired"),
    ({}, NOW - 6, "signature from the future"),
])
def test_verify_refuses(change: dict[str, str], now: int, message: str) -> None:
    headers = {**signed(), **change}
    with pytest.raises(SignatureError, match=message):
        verify_identity(headers, KEY, now=now)


@pytest.mark.parametrize("missing", ["X-Idp-Sub", "X-Idp-Time", "X-Idp-Signature",
                                     "X-Idp-Amr"])
def test_verify_refuses_missing_header(missing: str) -> None:
    headers = signed()
    del headers[missing]
    with pytest.raises(SignatureError, match=f"{missing} is missing"):
        verify_identity(headers, KEY, now=NOW)


def test_verify_refuses_short_keys() -> None:
    with pytest.raises(SignatureError, match="at least 32 bytes"):
        verify_identity(signed(), b"short", now=NOW)
    with pytest.raises(SignatureError, match="at least 32 bytes"):
        verify_identity(signed(), [], now=NOW)


def test_sign_refuses_values_that_break_the_canonical_form() -> None:
    with pytest.raises(SignatureError):
        signed(sub="a\nb")


BASE = {"IDP_GW_ISSUER": "https://tyrz.example.gov.cn/", "IDP_GW_CLIENT_ID": "c",
        "IDP_GW_CLIENT_SECRET": "s", "IDP_GW_PUBLIC_URL": "https://legacy.example.gov.cn",
        "IDP_GW_SIGNING_KEY": "x" * 32}


def test_config_from_env() -> None:
    config = GatewayConfig.from_env({**BASE, "IDP_GW_MIN_LEVEL": "2"})
    assert config.issuer == "https://tyrz.example.gov.cn"
    assert config.redirect_uri == "https://legacy.example.gov.cn/_gw/callback"
    assert config.min_level == 2 and config.secure_cookies is True


@pytest.mark.parametrize(("change", "message"), [
    ({"IDP_GW_ISSUER": ""}, "IDP_GW_ISSUER is required"),
    ({"IDP_GW_CLIENT_SECRET": ""}, "IDP_GW_CLIENT_SECRET is required"),
    ({"IDP_GW_ISSUER": "ftp://x"}, "IDP_GW_ISSUER must be an http"),
    ({"IDP_GW_PUBLIC_URL": "https://x/?a=1"}, "IDP_GW_PUBLIC_URL must be an http"),
    ({"IDP_GW_SIGNING_KEY": "short"}, "IDP_GW_SIGNING_KEY"),
    ({"IDP_GW_SIGNING_KEY": "", "IDP_GW_SIGNING_KEY_FILE": "/nonexistent/k"},
     "SIGNING_KEY_FILE cannot be read"),
    ({"IDP_GW_MIN_LEVEL": "4"}, "IDP_GW_MIN_LEVEL must be between 1 and 3"),
    ({"IDP_GW_MIN_LEVEL": "two"}, "IDP_GW_MIN_LEVEL must be a whole number"),
    ({"IDP_GW_SECURE_COOKIES": "maybe"}, "IDP_GW_SECURE_COOKIES must be true or false"),
    ({"IDP_GW_SCOPE": "profile"}, "IDP_GW_SCOPE must include openid"),
    ({"IDP_GW_IDLE_TIMEOUT": "5"}, "IDP_GW_IDLE_TIMEOUT must be between"),
])
def test_config_refuses(change: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GatewayConfig.from_env({**BASE, **change})


@pytest.mark.parametrize(("value", "expected"), [
    ("/records?id=7&tab=a", "/records?id=7&tab=a"),
    ("/", "/"),
    (None, "/"),
    ("", "/"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example/", "/"),
    ("/a\r\nSet-Cookie: x", "/"),
    ("/_gw/logout", "/"),
    ("/" + "a" * 3000, "/"),
])
def test_safe_next(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def make_store(**kw: int) -> Store:
    return Store(":memory:", session_ttl=kw.get("ttl", 3600), idle_timeout=kw.get("idle", 600))


def new_session(store: Store, sub: str = "s-1", sid: str | None = "sid-1") -> str:
    return store.create_session(sub=sub, sid=sid, name="张*", acr="urn:idp:acr:realname:1",
                                amr=["pwd"], id_token="t")


def test_store_keeps_only_a_hash_of_the_cookie(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(str(tmp_path / "gw.sqlite3"), session_ttl=3600, idle_timeout=600)
    token = new_session(store)
    found = store.session(token)
    assert found is not None and found.key == token_key(token) and found.amr == ("pwd",)
    assert token.encode() not in (tmp_path / "gw.sqlite3").read_bytes()
    assert store.session(token + "x") is None and store.session(None) is None


def test_store_expiry_and_idle_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    store = make_store(ttl=100, idle=60)
    token = new_session(store)
    start = time.time()
    monkeypatch.setattr(time, "time", lambda: start + 59)
    assert store.session(token) is not None
    monkeypatch.setattr(time, "time", lambda: start + 59 + 61)
    assert store.session(token) is None, "idle too long"
    monkeypatch.setattr(time, "time", lambda: start)
    token = new_session(store)
    for step in (50, 90, 101):  # active all along, but the absolute lifetime ends it
        monkeypatch.setattr(time, "time", lambda s=step: start + s)
        found = store.session(token)
    assert found is None


def test_store_end_for_sid_or_sub() -> None:
    store = make_store()
    a1, a2 = new_session(store, "a", "sid-a1"), new_session(store, "a", "sid-a2")
    b = new_session(store, "b", "sid-b")
    assert store.end_for(sid="sid-a1", sub="a") == 1
    assert store.session(a1) is None and store.session(a2) is not None
    assert store.end_for(sid=None, sub="a") == 1
    assert store.session(a2) is None and store.session(b) is not None
    assert store.end_for(sid=None, sub=None) == 0


def test_store_login_tx_single_use_and_jti_replay() -> None:
    store = make_store()
    state = store.begin_login(nonce="n", verifier="v", next_url="/x")
    tx = store.take_login(state)
    assert tx is not None and (tx.nonce, tx.verifier, tx.next) == ("n", "v", "/x")
    assert store.take_login(state) is None and store.take_login("") is None
    assert store.first_use_of_jti("j", time.time() + 60)
    assert not store.first_use_of_jti("j", time.time() + 60)
