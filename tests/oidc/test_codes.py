"""One-time authorization codes in the Store (codes.py, RFC 6749 §4.1.2 and §10.5).

A code is redeemed once by one atomic `Store.replace`; the used-marker it leaves names the
grant its tokens carry, so a second presentation revokes them. Run on both Store
implementations (`backend.store`).
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import select

from idp.audit.models import AuditRecord
from idp.oidc.codes import USED_MARKER_TTL, AuthorizationCode, CodeStore
from idp.store import batch
from tests.oidc.helpers import Pkce, get_code, redeem, register, sign_in

SECRET = "code-test-secret"


@pytest.fixture
def codes(backend):  # type: ignore[no-untyped-def]
    return CodeStore(backend.store, SECRET, ttl=60)


def a_code(client_id: str = "rp-1") -> AuthorizationCode:
    return AuthorizationCode(client_id=client_id, redirect_uri="https://rp/cb", scope="openid",
                             person_id=7, epoch=0, sid="s", auth_time=int(time.time()),
                             acr="urn:idp:acr:realname:1")


def test_a_code_is_redeemed_once_and_a_second_use_names_its_grant(codes):
    codes.save("abc", a_code())
    first = codes.redeem("abc", "rp-1")
    assert first.code is not None and first.reused is None
    again = codes.redeem("abc", "rp-1")
    assert again.code is None
    assert again.reused is not None
    assert again.reused["gid"] == first.code.gid and again.reused["client_id"] == "rp-1"


def test_unknown_code_finds_nothing_and_stores_nothing(codes, backend):
    assert codes.redeem("never-issued", "rp-1") == codes.redeem("never-issued", "rp-1")
    assert codes.redeem("never-issued", "rp-1").code is None
    assert codes.redeem("never-issued", "rp-1").reused is None
    assert backend.store.get(f"oidc-code:{codes._digest('never-issued')}") is None
    assert codes.redeem("", "rp-1").code is None and codes.redeem("x" * 129, "rp-1").code is None


def test_a_reuse_does_not_extend_or_change_the_marker(codes, backend):
    codes.save("abc", a_code())
    codes.redeem("abc", "rp-1")
    key = f"oidc-code:{codes._digest('abc')}"
    marker = backend.store.get(key)
    backend.store.set(key, marker.replace(str(_until(marker)), str(int(time.time()) + 100)),
                      100)  # as if redeemed almost a day ago
    before = backend.store.get(key)
    assert codes.redeem("abc", "rp-2").reused["client_id"] == "rp-1"
    assert backend.store.get(key) == before  # the first marker, not the reuser's
    assert backend.store.ttl(key) <= 100


def test_code_presented_by_another_client_is_burned_and_names_its_own_client(codes):
    codes.save("abc", a_code("rp-1"))
    stolen = codes.redeem("abc", "rp-2")
    assert stolen.code is not None and stolen.code.client_id == "rp-1"  # caller refuses it
    reused = codes.redeem("abc", "rp-1").reused
    assert reused is not None and reused["client_id"] == "rp-1"
    assert reused["gid"] == stolen.code.gid


def test_expired_code_is_refused_and_still_marked_used(codes):
    old = a_code()
    old.issued_at -= 61
    codes.save("abc", old)
    assert codes.redeem("abc", "rp-1").code is None
    assert codes.redeem("abc", "rp-1").reused is not None


def test_concurrent_redemptions_have_one_winner(codes):
    codes.save("abc", a_code())
    results = []
    threads = [threading.Thread(target=lambda: results.append(codes.redeem("abc", "rp-1")))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.code is not None for r in results) == 1
    assert sum(r.reused is not None for r in results) == 7


def test_save_can_be_queued_with_other_writes(codes, backend):
    with batch(backend.store) as writes:
        codes.save("abc", a_code(), writes)
        assert codes.redeem("abc", "rp-1").code is None  # not sent yet
    assert codes.redeem("abc", "rp-1").code is not None  # the early attempt burned nothing
    assert USED_MARKER_TTL - 5 < backend.store.ttl(f"oidc-code:{codes._digest('abc')}")


def test_reuse_through_the_token_endpoint_is_audited_against_the_issuing_client(
        client, platform, citizen):
    sign_in(client, platform, citizen)
    rp, other = register(platform), register(platform)
    pkce = Pkce()
    code = get_code(client, rp, pkce)
    assert redeem(client, other, code, pkce).get_json()["error"] == "invalid_grant"
    assert redeem(client, rp, code, pkce).get_json()["error"] == "invalid_grant"
    with platform.db.session() as db:
        actors = db.scalars(select(AuditRecord.actor)
                            .where(AuditRecord.action == "oidc:code:reuse")).all()
    assert actors == [f"client:{rp.client_id}"]


def _until(marker: str) -> int:
    return int(json.loads(marker)["until"])


@pytest.mark.parametrize("value", [
    '{"used": 1}', '{"used": 1, "gid": 5}', '{"unexpected": "field"}', "[" * 100_000,
    '"a string"', "not json"], ids=["marker-without-gid", "gid-not-text", "unknown-field",
                                    "nested-too-deep", "json-string", "not-json"])
def test_odd_values_at_a_code_key_never_fail(codes, backend, value):
    """Whatever another writer left at a code's key, redeeming answers (no exception): an odd
    marker still names this code's grant, anything else is no code at all."""
    key = f"oidc-code:{codes._digest('abc')}"
    backend.store.set(key, value, 60)
    found = codes.redeem("abc", "rp-1")
    assert found.code is None
    if value.startswith('{"used"'):
        assert found.reused == {"gid": codes._gid(codes._digest("abc")), "client_id": ""}
    else:
        assert found.reused is None
