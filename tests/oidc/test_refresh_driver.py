"""The express lane's refresh on PostgreSQL's driver (idp/oidc/refresh_driver.py).

It must store exactly what the session path stores — the same statements, bound the same
way — and, when it cannot finish, keep nothing: the caller rolls back and hands over.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import psycopg.types.json
import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    literal,
    select,
    text,
)

from idp.accounts.models import Person
from idp.audit.models import AuditHead, AuditRecord
from idp.audit.service import verify_chain
from idp.db import DriverStatement
from idp.federation import broker
from idp.oidc import code_driver, refresh, refresh_driver
from idp.oidc.logout import end_person_sessions
from idp.oidc.models import RefreshToken
from tests.oidc.helpers import (
    Pkce,
    in_thread,
    refresh_rows_alike,
    register,
    sign_in,
    stored_refresh_token,
    tokens,
)
from tests.oidc.test_express import lane_of, lane_off

pytestmark = pytest.mark.postgres  # the driver path exists on PostgreSQL only


@pytest.fixture
def rp(platform):
    return register(platform)


def _grants(client: Any, platform: Any, citizen: Any, rp: Any, n: int) -> list[dict[str, Any]]:
    sign_in(client, platform, citizen, level=3, amr=["pwd", "otp"])
    return [tokens(client, rp, Pkce(), scope="openid profile offline_access") for _ in range(n)]


def _refresh(client: Any, rp: Any, token: str) -> Any:
    return client.post("/token", headers=rp.basic(),
                       data={"grant_type": "refresh_token", "refresh_token": token})


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
    refresh_rows_alike(platform, fast.json["refresh_token"], slow.json["refresh_token"])
    assert stored_refresh_token(platform, first["refresh_token"])["rotated_at"] is not None
    assert (fast_event.actor, fast_event.action, fast_event.target, fast_event.details) \
        == (slow_event.actor, slow_event.action, slow_event.target, slow_event.details)
    assert fast_event.address == slow_event.address
    with platform.db.session() as session:
        assert verify_chain(session).ok


def _rotate_on_the_driver(app: Any, platform: Any, token: str, *, successor: bool | str,
                          meanwhile: str | None = None) -> bool:
    """Find ``token`` and rotate it (``successor``: True, or the new token itself) or only
    retire it on the driver, as the lane does; ``meanwhile`` (SQL) is committed by another
    connection in between."""
    server = app.extensions["oidc"]
    with app.test_request_context(), platform.db.autocommit_driver() as connection:
        found = refresh_driver.find_with_person(connection, platform.settings.secret_key,
                                                token)
        assert found is not None
        row, person = found
        rp_client = server.query_client(row.client_id)
        user = refresh.authorized_person(server, None, row, person, rp_client)
        new = successor if isinstance(successor, str) else refresh.new_token()
        issued = {"refresh_token": new if successor else None, "scope": row.scope}
        if meanwhile:
            with platform.db.engine.begin() as other:
                other.execute(text(meanwhile))
        return refresh_driver.rotate_and_record(connection, server, row, issued, rp_client,
                                                user, "127.0.0.1")


def _rows_and_chain(platform: Any) -> tuple[int, int, int | None]:
    with platform.db.session() as session:
        head = session.get(AuditHead, 1)
        return (session.scalar(select(func.count()).select_from(RefreshToken)),
                _audit(platform)[0], head.seq if head else None)


MEANWHILE = {
    # A concurrent use committed first: the claim finds the token retired.
    "claim-lost": "UPDATE oidc_refresh_token SET rotated_at = now()",
    # A family revocation committed first.
    "revoked": "UPDATE oidc_refresh_token SET revoked_at = now()",
    # The chain has no head (a fresh database): the full path must create it first.
    "no-audit-head": "DELETE FROM audit_head",
}


@pytest.mark.parametrize("successor", [True, False], ids=["rotate", "retire"])
@pytest.mark.parametrize("meanwhile", MEANWHILE.values(), ids=MEANWHILE.keys())
def test_a_rotation_that_cannot_happen_changes_nothing(app, client, platform, citizen, rp,
                                                       meanwhile, successor):
    """The claim, the successor and the audit record go together or not at all."""
    (issued,) = _grants(client, platform, citizen, rp, 1)
    rows, audits, seq = _rows_and_chain(platform)
    assert _rotate_on_the_driver(app, platform, issued["refresh_token"], successor=successor,
                                 meanwhile=meanwhile) is False
    assert _rows_and_chain(platform) == (rows, audits, None if "DELETE" in meanwhile else seq)
    with platform.db.session() as session:
        old = session.scalars(select(RefreshToken)).one()
        assert (old.rotated_at is None) == ("rotated_at" not in meanwhile)


@pytest.mark.parametrize("successor", [True, False], ids=["rotate", "retire"])
def test_a_rotation_on_the_driver_commits_all_three(app, client, platform, citizen, rp,
                                                    successor):
    """The control for the table above: with nothing in the way, the token is retired, its
    successor stored and the issue audited, in one chain that verifies."""
    (issued,) = _grants(client, platform, citizen, rp, 1)
    rows, audits, seq = _rows_and_chain(platform)
    assert _rotate_on_the_driver(app, platform, issued["refresh_token"],
                                 successor=successor) is True
    assert _rows_and_chain(platform) == (rows + successor, audits + 1, seq + 1)
    with platform.db.session() as session:
        assert verify_chain(session).ok
    assert _refresh(client, rp, issued["refresh_token"]).json["error"] == "invalid_grant"


def _family(platform: Any, family_id: str) -> list[RefreshToken]:
    with platform.db.session() as session:
        return list(session.scalars(select(RefreshToken).where(
            RefreshToken.family_id == family_id)))


def test_a_rotation_waits_for_a_revocation_in_flight_and_loses(app, client, platform,
                                                               citizen, rp):
    """`revoke_family` takes the family's lock before it touches a row, and holds it until it
    commits: the rotation statement waits on that lock (not on a row), then finds the token
    revoked and changes nothing."""
    (issued,) = _grants(client, platform, citizen, rp, 1)
    with platform.db.session() as session:
        family = session.scalars(select(RefreshToken.family_id)).one()
    with platform.db.engine.begin() as revocation:
        revocation.execute(select(refresh.family_lock(family)))  # revoke_family's first step
        thread, out = in_thread(lambda: _rotate_on_the_driver(
            app, platform, issued["refresh_token"], successor=True))
        assert thread.is_alive() and not out  # waiting for the family's lock
        revocation.execute(text("UPDATE oidc_refresh_token SET revoked_at = now()"))
    thread.join(30)
    assert out == [False]
    (only,) = _family(platform, family)  # no successor
    assert only.revoked_at is not None and only.rotated_at is None


def _hold_the_audit_head(platform: Any) -> Any:
    """A transaction holding the audit chain's head: a rotation stops just before its append."""
    holder = platform.db.engine.connect()
    holder.begin()
    holder.execute(text("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE"))
    return holder


def test_a_person_logout_during_a_rotation_leaves_no_usable_successor(app, client, platform,
                                                                      citizen, rp):
    """Review of 43bd22c: `revoke_person`'s UPDATE cannot see a successor committed after it
    began, so `end_person_sessions` (a logout at the home node: no ban, no new password)
    also bumps the security epoch, which the successor carries from its predecessor."""
    (issued,) = _grants(client, platform, citizen, rp, 1)
    successor = refresh.new_token()

    def logout() -> bool:
        with app.app_context(), platform.db.session() as session:
            person = session.get(Person, citizen.person_id)
            end_person_sessions(platform, session, person, "home_logout")
        return True

    holder = _hold_the_audit_head(platform)
    rotation, rotated = in_thread(lambda: _rotate_on_the_driver(
        app, platform, issued["refresh_token"], successor=successor))
    ending, ended = in_thread(logout)
    assert rotation.is_alive() and ending.is_alive()  # waiting for the head, for the row
    holder.commit()
    holder.close()
    rotation.join(30)
    ending.join(30)
    assert rotated == [True] and ended == [True]
    refused = _refresh(client, rp, successor)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"


def test_a_home_logout_audits_after_revoking_so_a_rotation_cannot_deadlock_it(
        app, client, platform, citizen, rp, monkeypatch):
    """Review of 43bd22c: a rotation holds its token's row, then waits for the audit head;
    a home-node logout that appended its audit record first held the head, then waited for
    that row: a deadlock, and a 500 for one of them. It now revokes first."""
    (issued,) = _grants(client, platform, citizen, rp, 1)

    def home_logout() -> bool:
        with app.app_context(), platform.db.session() as session:
            person = session.get(Person, citizen.person_id)
            monkeypatch.setattr(broker.links, "find_linked", lambda *_: person)
            broker.end_linked_sessions(platform, session, "https://home.example", "s", "")
        return True

    holder = _hold_the_audit_head(platform)
    ending, ended = in_thread(home_logout)  # first in the head's queue
    rotation, rotated = in_thread(lambda: _rotate_on_the_driver(
        app, platform, issued["refresh_token"], successor=True))
    assert ending.is_alive() and rotation.is_alive()
    holder.commit()
    holder.close()
    ending.join(30)
    rotation.join(30)
    assert ended == [True] and rotated == [False]  # revoked first: the claim lost


def test_a_rotation_waits_for_a_ban_holding_the_person_without_holding_the_head(
        app, client, platform, citizen, rp):
    """Review of 43bd22c: the successor's foreign key locks the person (key share) — at the
    end of the statement, after the audit head, it held the head while a ban held the
    person. The person is now locked first: the head stays free meanwhile."""
    (issued,) = _grants(client, platform, citizen, rp, 1)
    with platform.db.engine.begin() as ban:
        ban.execute(text("SELECT id FROM person WHERE id = :id FOR UPDATE"),
                    {"id": citizen.person_id})
        rotation, rotated = in_thread(lambda: _rotate_on_the_driver(
            app, platform, issued["refresh_token"], successor=True))
        assert rotation.is_alive()
        with platform.db.engine.begin() as other:
            other.execute(text("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE NOWAIT"))
        ban.execute(text("UPDATE oidc_refresh_token SET revoked_at = now()"))
    rotation.join(30)
    assert rotated == [False]


def test_a_revocation_waits_for_the_rotation_statement_and_takes_its_successor(
        app, client, platform, citizen, rp):
    """The rotation holds the family's lock from its claim to its commit: a revocation
    arriving meanwhile waits, then revokes the successor too. (The statement is held up
    after its claim by another transaction holding the audit chain's head.)"""
    (issued,) = _grants(client, platform, citizen, rp, 1)
    revoked = platform.services["oidc"].revoked
    with platform.db.session() as session:
        family = session.scalars(select(RefreshToken.family_id)).one()

    def revoke() -> bool:
        with platform.db.session() as session:
            refresh.revoke_family(session, revoked, family)
        return True

    with platform.db.engine.begin() as holder:
        holder.execute(text("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE"))
        rotation, rotated = in_thread(lambda: _rotate_on_the_driver(
            app, platform, issued["refresh_token"], successor=True))
        revocation, done = in_thread(revoke)
        assert rotation.is_alive() and revocation.is_alive() and not rotated and not done
    rotation.join(30)
    revocation.join(30)
    assert rotated == [True] and done == [True]
    rows = _family(platform, family)
    assert len(rows) == 2 and all(row.revoked_at is not None for row in rows)


def test_an_error_frees_the_connection_and_a_dropped_one_is_not_reused(platform):
    engine = platform.db.reader_engine
    pool = engine.pool
    for _ in range(3):
        with pytest.raises(psycopg.errors.DivisionByZero):
            with platform.db.autocommit_driver() as connection:
                connection.execute("SELECT 1 / 0")
        assert pool.checkedout() == 0
    with platform.db.autocommit_driver() as connection:
        victim = connection.info.backend_pid
    with platform.db.engine.begin() as other:  # the server drops it (restart, idle timeout)
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
    with pytest.raises(psycopg.OperationalError):
        with platform.db.autocommit_driver() as connection:
            assert connection.info.backend_pid == victim
            connection.execute("SELECT 1")
    with platform.db.autocommit_driver() as connection:  # a new connection, working
        assert DriverStatement(select(func.count()).select_from(AuditHead)).rows(connection, {})
        assert connection.info.backend_pid != victim
    assert pool.checkedout() == 0


def test_a_prepared_driver_statement_on_a_dropped_connection_raises_operational_error(platform):
    count = DriverStatement(select(func.count()).select_from(AuditHead))
    with platform.db.autocommit_driver() as connection:
        count.rows(connection, {})  # prepared on this connection
        victim = connection.info.backend_pid
    with platform.db.engine.begin() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
    with pytest.raises(psycopg.OperationalError):
        with platform.db.autocommit_driver() as connection:
            assert connection.info.backend_pid == victim
            count.rows(connection, {})
    with platform.db.autocommit_driver() as connection:
        assert count.rows(connection, {}) and connection.info.backend_pid != victim
    assert platform.db.reader_engine.pool.checkedout() == 0


def test_driver_statements_survive_deallocate_all_and_raise_sql_errors(platform):
    """psycopg sends DEALLOCATE ALL after a DROP or DISCARD on a connection: the statement is
    prepared again. A failing statement raises psycopg's own exception, its SQLSTATE kept."""
    heads = select(AuditHead.id).where(AuditHead.id == bindparam("head_id"))
    by_id = DriverStatement(heads)
    divide = DriverStatement(select(literal(1) / bindparam("zero", type_=Integer)))
    with platform.db.autocommit_driver() as connection:
        first = by_id.rows(connection, {"head_id": 1})
        connection.execute("DEALLOCATE ALL")
        assert by_id.rows(connection, {"head_id": 1}) == first
        assert by_id.rows(connection, {"head_id": 2}) == []
        with pytest.raises(psycopg.errors.DivisionByZero):
            divide.rows(connection, {"zero": 0})
        assert divide.rows(connection, {"zero": 1}) == [(1,)]


def test_a_driver_statement_is_prepared_again_when_its_result_type_changed(platform):
    """A migration that changes a returned column's type makes the prepared plan fail
    ("cached plan must not change result type"): prepared again, not failing until the
    connection is recycled (review)."""
    table = Table("driver_plan_probe", MetaData(), Column("v", Integer))
    read = DriverStatement(select(table.c.v))
    with platform.db.autocommit_driver() as connection:
        connection.execute("CREATE TABLE driver_plan_probe (v integer)")
        try:
            connection.execute("INSERT INTO driver_plan_probe VALUES (7)")
            assert read.rows(connection, {}) == [(7,)]
            connection.execute("ALTER TABLE driver_plan_probe ALTER v TYPE bigint")
            assert read.rows(connection, {}) == [(7,)]
            assert read.rows(connection, {}) == [(7,)]
        finally:
            connection.execute("DROP TABLE driver_plan_probe")


def test_a_driver_statement_takes_null_and_a_value_in_the_same_parameter(platform):
    """psycopg's dumpers type a NULL other than a value; each gets its own prepared statement,
    and both answer as SQL would."""
    given = DriverStatement(select(func.coalesce(bindparam("text", type_=String), "none")))
    with platform.db.autocommit_driver() as connection:
        for value, expected in [(None, "none"), ("甲", "甲"), (None, "none"), ("", "")]:
            assert given.rows(connection, {"text": value}) == [(expected,)]


def test_driver_statements_are_bound_as_the_engine_binds_them(platform):
    """`DriverStatement` compiles with a dialect of its own: its SQL and its bind processors
    must be the engine's, or the lane (and code_driver.py) would store and hash other bytes
    than the session's path (JSON serialiser, time zones)."""
    engine_dialect = platform.db.engine.dialect
    now = dt.datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    values = {"now": now, "n_issued_at": now, "n_expires_at": now, "n_amr": ["pwd", "otp"],
              "n_acting": {"org": "甲", "items": ["*"]}, "a_details": {"scope": "openid 档案"}}
    for driver in (refresh_driver._ROTATE, refresh_driver._RETIRE, refresh_driver._FIND,
                   code_driver._READ, code_driver._STORE_AND_RECORD, code_driver._RECORD):
        compiled = driver.statement.compile(dialect=engine_dialect)
        numbered = driver.statement.compile(dialect=type(engine_dialect)(
            paramstyle="numeric_dollar"))
        assert driver.sql == numbered.string
        ours = dict(driver._processors)
        theirs = compiled._bind_processors
        assert ours.keys() == theirs.keys()
        for name, process in ours.items():
            assert _sent(process(values[name])) == _sent(theirs[name](values[name])), name


def _sent(value: Any) -> Any:
    """What psycopg will send: a JSON wrapper by its object and its serialiser."""
    if isinstance(value, psycopg.types.json.Json):
        return ("json", value.obj, value.dumps)
    return value
