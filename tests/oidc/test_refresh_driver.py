"""The express lane's refresh on PostgreSQL's driver (idp/oidc/refresh_driver.py).

It must store exactly what the session path stores — the same statements, bound the same
way — and, when it cannot finish, keep nothing: the caller rolls back and hands over.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from idp.audit import service as audit_service
from idp.audit.models import AuditHead, AuditRecord
from idp.audit.service import verify_chain
from idp.db import DriverStatement
from idp.oidc import refresh, refresh_driver
from idp.oidc.models import RefreshToken
from tests.oidc.helpers import Pkce, register, sign_in, tokens
from tests.oidc.test_express import lane_of, lane_off

pytestmark = pytest.mark.postgres  # the driver path exists on PostgreSQL only

_PER_TOKEN = ("id", "token_digest", "family_id", "issued_at", "expires_at")


@pytest.fixture
def rp(platform):
    return register(platform)


def _grants(client: Any, platform: Any, citizen: Any, rp: Any, n: int) -> list[dict[str, Any]]:
    sign_in(client, platform, citizen, level=3, amr=["pwd", "otp"])
    return [tokens(client, rp, Pkce(), scope="openid profile offline_access") for _ in range(n)]


def _refresh(client: Any, rp: Any, token: str) -> Any:
    return client.post("/token", headers=rp.basic(),
                       data={"grant_type": "refresh_token", "refresh_token": token})


def _stored(platform: Any, token: str) -> dict[str, Any]:
    with platform.db.session() as session:
        row = session.scalars(select(RefreshToken).where(
            RefreshToken.token_digest == refresh.digest(platform.settings.secret_key,
                                                         token))).one()
        return {c.name: getattr(row, c.name) for c in RefreshToken.__table__.columns}


def _audit(platform: Any) -> tuple[int, AuditRecord]:
    with platform.db.session() as session:
        last = session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc())).first()
        return session.scalar(select(func.count()).select_from(AuditRecord)), last


def test_the_driver_stores_what_the_session_stores(app, client, platform, citizen, rp):
    """The successor row (JSON ``amr``, times, epoch, scope…) and the audit record written by
    the driver equal those the Flask path writes for a grant alike; the chain verifies."""
    first, second = _grants(client, platform, citizen, rp, 2)
    lane = lane_of(app)
    before = lane.answered
    fast = _refresh(client, rp, first["refresh_token"])
    assert fast.status_code == 200 and lane.answered == before + 1
    _, fast_event = _audit(platform)
    with lane_off(app):
        slow = _refresh(client, rp, second["refresh_token"])
    _, slow_event = _audit(platform)
    fast_row, slow_row = (_stored(platform, r.json["refresh_token"]) for r in (fast, slow))
    assert fast_row["amr"] == ["pwd", "otp"] and fast_row["acting"] is None
    assert {k: v for k, v in fast_row.items() if k not in _PER_TOKEN} \
        == {k: v for k, v in slow_row.items() if k not in _PER_TOKEN}
    assert fast_row["expires_at"] - fast_row["issued_at"] \
        == slow_row["expires_at"] - slow_row["issued_at"]
    assert _stored(platform, first["refresh_token"])["rotated_at"] is not None
    assert (fast_event.actor, fast_event.action, fast_event.target, fast_event.details) \
        == (slow_event.actor, slow_event.action, slow_event.target, slow_event.details)
    assert fast_event.address == slow_event.address
    with platform.db.session() as session:
        assert verify_chain(session).ok


def _in_driver_transaction(app: Any, platform: Any, token: str, before_rotating: str
                           ) -> bool:
    """Find ``token`` and rotate it on the driver, running ``before_rotating`` (SQL) in the
    same transaction first; a False answer is rolled back, as the lane does."""
    server = app.extensions["oidc"]

    class Lost(Exception):
        pass

    try:
        with platform.db.driver_transaction() as connection:
            found = refresh_driver.find_with_person(connection, platform.settings.secret_key,
                                                    token)
            assert found is not None
            row, person = found
            rp_client = server.query_client(row.client_id)
            user = refresh.authorized_person(server, None, row, person, rp_client)
            issued = {"refresh_token": refresh.new_token(), "scope": row.scope}
            connection.execute(before_rotating)
            if not refresh_driver.rotate_and_record(connection, server, row, issued,
                                                    rp_client, user, "127.0.0.1"):
                raise Lost
    except Lost:
        return False
    return True


@pytest.mark.parametrize("before_rotating", [
    # A concurrent use committed first: the claim finds the token retired.
    "UPDATE oidc_refresh_token SET rotated_at = now()",
    # A family revocation committed first.
    "UPDATE oidc_refresh_token SET revoked_at = now()",
    # The chain has no head yet (a fresh database): the full path must create it.
    "DELETE FROM audit_head",
], ids=["claim-lost", "revoked", "no-audit-head"])
def test_a_rotation_that_cannot_finish_keeps_nothing(app, client, platform, citizen, rp,
                                                     before_rotating):
    (issued,) = _grants(client, platform, citizen, rp, 1)
    audits, _ = _audit(platform)
    with app.test_request_context():
        assert _in_driver_transaction(app, platform, issued["refresh_token"], before_rotating) \
            is False
    assert _audit(platform)[0] == audits
    with platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(RefreshToken)) == 1
        assert session.get(AuditHead, 1) is not None
    # Nothing was kept, not even the statement run before: the token still rotates.
    assert _refresh(client, rp, issued["refresh_token"]).status_code == 200


def test_a_rotation_in_the_driver_transaction_commits(app, client, platform, citizen, rp):
    """The control for the table above: with nothing in the way the same helper rotates."""
    (issued,) = _grants(client, platform, citizen, rp, 1)
    audits, _ = _audit(platform)
    with app.test_request_context():
        assert _in_driver_transaction(app, platform, issued["refresh_token"], "SELECT 1") is True
    assert _audit(platform)[0] == audits + 1
    assert _refresh(client, rp, issued["refresh_token"]).json["error"] == "invalid_grant"


def test_an_error_in_a_driver_transaction_rolls_back_and_frees_the_connection(platform):
    with platform.db.session() as session:
        seq = audit_service.record(session, actor="test", action="test").seq
    pool = platform.db.engine.pool
    for _ in range(3):
        with pytest.raises(psycopg.errors.DivisionByZero):
            with platform.db.driver_transaction() as connection:
                connection.execute("UPDATE audit_head SET seq = seq + 1000")
                connection.execute("SELECT 1 / 0")
        assert pool.checkedout() == 0
    with platform.db.driver_transaction() as connection:  # the connection is usable again
        cursor = connection.cursor()
        DriverStatement(select(AuditHead.seq)).execute(cursor, {})
        assert cursor.fetchone() == (seq,)
    assert pool.checkedout() == 0
