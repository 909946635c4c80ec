"""The code's redemption on PostgreSQL's driver (idp/oidc/code_driver.py).

Two statements and no transaction of the session; exactly what the session's path stores
(the same refresh-token row, the same audit record, one chain); and when the statement
cannot write (no audit head yet), the session's path writes, once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from idp.accounts.models import AccountStatus, Person
from idp.accounts.service import Accounts
from idp.audit.models import AuditHead, AuditRecord
from idp.audit.service import verify_chain
from idp.oidc import code_driver, refresh
from idp.oidc.codes import AuthorizationCode
from idp.oidc.models import RefreshToken
from idp.oidc.tokens import AuthorizedPerson
from tests.oidc.helpers import (
    Pkce,
    driver_statements,
    get_code,
    in_thread,
    redeem,
    refresh_rows_alike,
    register,
    sign_in,
    stored_refresh_token,
)

pytestmark = pytest.mark.postgres  # the driver path exists on PostgreSQL only

OFFLINE = "openid profile offline_access"
ONLINE = "openid profile"
# The audit fields two redemptions of one sign-in write alike.
_EVENT = ("actor", "action", "target", "outcome", "address", "details")


@pytest.fixture
def rp(platform):
    return register(platform)


@contextmanager
def session_round_trips(platform: Any) -> Iterator[list[str]]:
    """What goes through the engines (the session's and the reader's) while the block runs:
    statements, BEGIN, COMMIT, ROLLBACK."""
    seen: list[str] = []
    listeners = [("before_cursor_execute", lambda _c, _cur, sql, *_a: seen.append(sql))] + [
        (name, lambda *_a, n=name: seen.append(n.upper()))
        for name in ("begin", "commit", "rollback")]
    engines = (platform.db.engine, platform.db.reader_engine)
    for engine in engines:
        for name, listener in listeners:
            event.listen(engine, name, listener)
    try:
        yield seen
    finally:
        for engine in engines:
            for name, listener in listeners:
                event.remove(engine, name, listener)


def _codes(client: Any, platform: Any, citizen: Any, rp: Any, scope: str, n: int = 1
           ) -> list[tuple[str, Pkce]]:
    """``n`` codes of one sign-in, each with its PKCE verifier."""
    sign_in(client, platform, citizen, level=3, amr=["pwd", "otp"])
    pkces = [Pkce() for _ in range(n)]
    return [(get_code(client, rp, pkce, scope=scope), pkce) for pkce in pkces]


def _events(platform: Any) -> list[AuditRecord]:
    with platform.db.session() as session:
        return list(session.scalars(select(AuditRecord).order_by(AuditRecord.seq)))


def _counts(platform: Any) -> tuple[int, int, int | None]:
    """Refresh tokens, audit records, the head's seq (None: no head)."""
    with platform.db.session() as session:
        head = session.get(AuditHead, 1)
        return (session.scalar(select(func.count()).select_from(RefreshToken)),
                session.scalar(select(func.count()).select_from(AuditRecord)),
                head.seq if head else None)


@contextmanager
def session_path(monkeypatch: Any) -> Iterator[None]:
    """Redeem as before this module: through the session."""
    with monkeypatch.context() as patched:
        patched.setattr(code_driver, "applies", lambda *_: False)
        yield


@pytest.mark.parametrize(("scope", "write"), [(OFFLINE, "_STORE_AND_RECORD"),
                                              (ONLINE, "_RECORD")], ids=["offline", "online"])
def test_a_redemption_is_two_statements_on_the_driver_and_no_transaction(
        client, platform, citizen, rp, scope, write):
    ((code, pkce),) = _codes(client, platform, citizen, rp, scope)
    with session_round_trips(platform) as through_session, driver_statements() as driven:
        resp = redeem(client, rp, code, pkce)
    assert resp.status_code == 200 and ("refresh_token" in resp.json) == (scope == OFFLINE)
    assert through_session == []  # no BEGIN, no COMMIT, nothing through SQLAlchemy
    assert driven == [code_driver._READ, getattr(code_driver, write)]


@pytest.mark.parametrize("scope", [OFFLINE, ONLINE], ids=["offline", "online"])
def test_the_driver_stores_what_the_session_stores(client, platform, citizen, rp, monkeypatch,
                                                   scope):
    """Two codes of one sign-in, one redeemed on the driver and one through the session: the
    same response, refresh-token row (JSON ``amr``, times, epoch, scope…) and audit record;
    the chain verifies and the driver's refresh token works."""
    (fast_code, fast_pkce), (slow_code, slow_pkce) = _codes(client, platform, citizen, rp,
                                                            scope, 2)
    fast = redeem(client, rp, fast_code, fast_pkce)
    fast_event = _events(platform)[-1]
    with session_path(monkeypatch), driver_statements() as driven:
        slow = redeem(client, rp, slow_code, slow_pkce)
    assert driven == []  # the control really took the session's path
    slow_event = _events(platform)[-1]
    assert fast.status_code == slow.status_code == 200
    assert [h for h in fast.headers if h[0] != "Content-Length"] \
        == [h for h in slow.headers if h[0] != "Content-Length"]
    assert fast.json.keys() == slow.json.keys()
    assert {k: fast.json[k] for k in ("token_type", "expires_in", "scope")} \
        == {k: slow.json[k] for k in ("token_type", "expires_in", "scope")}
    assert [getattr(fast_event, f) for f in _EVENT] == [getattr(slow_event, f) for f in _EVENT]
    assert fast_event.action == "oidc:token:issue" \
        and fast_event.details["refresh"] == (scope == OFFLINE)
    with platform.db.session() as session:
        assert verify_chain(session).ok
    if scope == ONLINE:
        return
    refresh_rows_alike(platform, fast.json["refresh_token"], slow.json["refresh_token"])
    refreshed = client.post("/token", headers=rp.basic(), data={
        "grant_type": "refresh_token", "refresh_token": fast.json["refresh_token"]})
    assert refreshed.status_code == 200


@pytest.mark.parametrize("scope", [OFFLINE, ONLINE], ids=["offline", "online"])
def test_without_an_audit_head_the_session_creates_it_and_writes_once(
        client, platform, citizen, rp, scope):
    """A fresh chain (no head): the statement writes nothing, the session's path writes the
    refresh token and the record once, creating the head."""
    ((code, pkce),) = _codes(client, platform, citizen, rp, scope)
    with platform.db.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_record"))
        connection.execute(text("DELETE FROM audit_head"))
    tokens_before = _counts(platform)[0]
    with session_round_trips(platform) as through_session, driver_statements() as driven:
        resp = redeem(client, rp, code, pkce)
    assert resp.status_code == 200
    assert len(driven) == 2 and "COMMIT" in through_session  # tried, then the session
    assert _counts(platform) == (tokens_before + (scope == OFFLINE), 1, 1)
    (only,) = _events(platform)
    assert only.action == "oidc:token:issue" and only.target == f"person:{citizen.person_id}"
    with platform.db.session() as session:
        assert verify_chain(session).ok
    if scope == OFFLINE:
        assert stored_refresh_token(platform, resp.json["refresh_token"])["revoked_at"] is None


def test_a_person_banned_before_the_redemption_gets_invalid_grant_and_nothing_written(
        client, platform, citizen, rp):
    ((code, pkce),) = _codes(client, platform, citizen, rp, OFFLINE)
    with platform.db.session() as session:
        Accounts(session, platform.protector, platform.hasher).set_status(
            session.get(Person, citizen.person_id), AccountStatus.BANNED)
    counts = _counts(platform)
    with driver_statements() as driven:
        resp = redeem(client, rp, code, pkce)
    assert resp.status_code == 400 and resp.json["error"] == "invalid_grant"
    assert driven == [code_driver._READ]  # read, refused: no write
    assert _counts(platform) == counts


def _client(platform: Any, server: Any, rp: Any) -> Any:
    with platform.db.reader() as session:
        return server.query_client(rp.client_id, db=lambda: session)


def test_the_write_waits_for_a_ban_holding_the_person_without_holding_the_head(
        app, platform, citizen, rp):
    """As refresh_driver's rotation: the person is locked first, so a ban holding the person
    never waits for a head this statement holds (a deadlock). Once the ban commits, the
    token is written with the epoch it was issued under — refused from then on."""
    server = app.extensions["oidc"]
    rp_client = _client(platform, server, rp)
    token = {"refresh_token": refresh.new_token(), "scope": OFFLINE}

    def write() -> bool:
        with platform.db.autocommit_driver() as connection:
            person = code_driver.read_person(connection, citizen.person_id)
            assert person is not None
            user = AuthorizedPerson(person, "sid", int(time.time()), "1", ["pwd"], gid="g" * 24,
                                    sub=citizen.sub)
            return code_driver.store_and_record(connection, server, token, rp_client, user,
                                                "127.0.0.1")

    counts = _counts(platform)
    with platform.db.engine.begin() as ban:
        ban.execute(text("SELECT id FROM person WHERE id = :id FOR UPDATE"),
                    {"id": citizen.person_id})
        writing, written = in_thread(write)
        assert writing.is_alive() and not written  # waiting for the person
        with platform.db.engine.begin() as other:  # the head is free meanwhile
            other.execute(text("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE NOWAIT"))
    writing.join(30)
    assert written == [True]
    tokens, records, seq = counts
    assert _counts(platform) == (tokens + 1, records + 1, seq + 1)


@pytest.mark.parametrize(("acting", "peer", "expected"), [
    (None, False, True), ({"org": "x"}, False, False), (None, True, False)],
    ids=["plain", "acting", "federation-peer"])
def test_codes_acting_for_a_legal_person_and_peers_keep_the_session(
        app, platform, rp, acting, peer, expected):
    """`acting.resolve` and `peer_clients.record_issue` need the session."""
    rp_client = _client(platform, app.extensions["oidc"], rp)
    client = SimpleNamespace(federation_peer=True) if peer else rp_client  # peer_clients'
    code = AuthorizationCode(client_id=rp.client_id, redirect_uri=rp.redirect_uri,
                             scope=OFFLINE, person_id=1, epoch=0, sid=None, auth_time=0,
                             acr="1", acting=acting)
    assert code_driver.applies(platform.db, code, client) is expected
