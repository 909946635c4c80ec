"""The hash-chained operation log and ``idp audit verify`` (R-53, issue 2 §8)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import TIMESTAMP, cast, delete, event, literal, select, text, update

from idp.audit import service as audit_service
from idp.audit.models import AuditHead, AuditRecord
from idp.audit.service import record, verify_chain
from tests.conftest import BACKEND


def _append(platform, n: int, actor: str = "cli:test") -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        with platform.db.session() as s:
            record(s, actor=actor, action="account:test", target=f"t{i}", details={"i": i})


def test_records_chain_in_order(platform):
    _append(platform, 3)
    with platform.db.session() as s:
        rows = s.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
        assert [r.seq for r in rows] == [1, 2, 3]
        assert rows[0].prev_hash == "0" * 64
        assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash
        assert verify_chain(s).ok


def test_record_rolls_back_with_its_operation(platform):
    with pytest.raises(RuntimeError), platform.db.session() as s:
        record(s, actor="cli:test", action="account:test")
        raise RuntimeError("operation failed")
    with platform.db.session() as s:
        assert s.scalars(select(AuditRecord)).all() == []
        assert verify_chain(s).ok


def _append_concurrently(platform, threads: int, each: int) -> None:  # type: ignore[no-untyped-def]
    """``threads`` threads, each with its own sessions (on postgres: real concurrent
    transactions, all released at once), each appending ``each`` records."""
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(actor: str) -> None:
        try:
            start.wait()
            _append(platform, each, actor)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(60)
    assert errors == []


def test_concurrent_appends_keep_one_valid_chain(platform):
    _append_concurrently(platform, 2, 15)
    with platform.db.session() as s:
        result = verify_chain(s)
        assert result.ok and result.checked == 30
        actors = s.scalars(select(AuditRecord.actor)).all()
        assert sorted(set(actors)) == ["t0", "t1"]


def test_many_concurrent_appends_verify_and_tampering_is_named(platform, idp_cli):
    """The head's row lock orders appends (on PostgreSQL, the one-statement append: its
    FOR UPDATE waits, then reads the head as the other append committed it)."""
    _append_concurrently(platform, 6, 20)
    with platform.db.session() as s:
        seqs = s.scalars(select(AuditRecord.seq).order_by(AuditRecord.seq)).all()
        head = s.get(AuditHead, 1)
        last = s.get(AuditRecord, 120)
        assert seqs == list(range(1, 121))
        assert head is not None and last is not None
        assert (head.seq, head.last_hash) == (120, last.hash)
    result = idp_cli("audit", "verify")
    assert result.exit_code == 0, result.stderr
    assert "audit chain intact: 120 records" in result.output
    _tamper(platform, update(AuditRecord).where(AuditRecord.seq == 57)
            .values(actor="someone else"))
    result = idp_cli("audit", "verify")
    assert result.exit_code == 1
    assert "audit chain BROKEN at record 57: record altered" in result.stderr


# Fields that exercise the serialisation: non-ASCII (kept as UTF-8, not \u-escaped), quotes,
# backslashes, control characters, nested and unsorted keys, numbers, null, booleans.
_AWKWARD = [
    dict(actor="staff:张三", action="account:test", target="person:1", outcome="success",
         address="2001:db8::1", details={"z": 1, "a": [True, None, 1.5], "名": "王\"五\\"}),
    dict(actor="cli:test", action="account:test", target='t"\n', outcome="failure",
         address="", details={"nested": {"b": "\u0000\t\n", "a": "😀"}, "é": -2}),
    dict(actor="cli:test", action="account:test", target="", outcome="success", address="",
         details={}),
]
# The chain those fields make at these times, computed once: the same bytes on SQLite (hashed
# by Python) and PostgreSQL (hashed in SQL by the one-statement append), so the chain is
# identical in form on both backends and `idp audit verify` reads either.
_AWKWARD_HASHES = [
    "f56f02ec46942e9df856168705b54cd5cb5b9cb1321e570fd1f64311a94f5266",
    "38fbb7fffae9b2e1f2ddf35dce79487f81308fc207055afa1b6039f1051b2f9b",
    "44e5bffa02e03654230c126df2c1beb9f42a4581855c27310ecdef5ad6653cd2",
]


def test_chain_is_byte_identical_on_both_backends(platform, monkeypatch):
    times = [dt.datetime(2026, 11, 22, 13, 0, s, 5 * s, tzinfo=dt.UTC) for s in range(3)]
    for at, fields in zip(times, _AWKWARD, strict=True):
        _fix_clock(monkeypatch, at)
        with platform.db.session() as s:
            returned = record(s, **fields)
        assert returned.at == at
        with platform.db.session() as s:
            stored = s.get(AuditRecord, returned.seq)
            assert stored is not None and stored.hash == returned.hash and stored.at == at
    with platform.db.session() as s:
        rows = s.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
        assert [r.hash for r in rows] == _AWKWARD_HASHES
        assert rows[0].actor == "staff:张三" and rows[1].details["nested"]["a"] == "😀"
        assert verify_chain(s).ok


def _fix_clock(monkeypatch, at: dt.datetime) -> None:  # type: ignore[no-untyped-def]
    """The next appends take ``at`` as their time: `utcnow` on SQLite; on PostgreSQL, where
    the time is read in SQL under the head's lock, the statement with ``at`` as its clock."""
    monkeypatch.setattr(audit_service, "utcnow", lambda: at)
    clock = cast(literal(at), TIMESTAMP(timezone=True))
    monkeypatch.setattr(audit_service, "APPEND", audit_service.append_statement(clock))


@pytest.mark.postgres  # the time is formatted in SQL on PostgreSQL only
@pytest.mark.parametrize("at", [
    dt.datetime(2026, 11, 22, 15, 1, 2, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 1, 1, 0, 0, 0, 0, tzinfo=dt.UTC),  # midnight, no fraction: still .000000
    dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 29, 1, 30, 0, 7, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    dt.datetime(999, 7, 4, 12, 0, 0, 10, tzinfo=dt.UTC),  # four-digit year
])
def test_sql_time_text_is_pythons(platform, at):
    """`_iso_utc` (the hashed text of ``at`` on PostgreSQL) writes exactly what `_iso` (what
    `verify_chain` recomputes) writes, whatever the session's TimeZone."""
    with platform.db.session() as s:
        s.execute(text("SET LOCAL TimeZone = 'America/St_Johns'"))
        written = s.scalar(select(audit_service._iso_utc(cast(literal(at),
                                                               TIMESTAMP(timezone=True)))))
    assert written == audit_service._iso(at)


def test_time_follows_seq_when_an_append_waits_for_the_head(platform):
    """Review of 2aec45a: T1 appends and keeps its transaction open; T2 starts an append,
    which waits for the head's lock; T1 appends again and commits; T2 completes. T2's ``at``
    is taken once it holds the lock, so it is not earlier than T1's second record's."""
    _append(platform, 1)  # the head exists: T2 waits for its lock, not for its creation
    started = threading.Event()
    t2_pid: list[int] = []
    errors: list[BaseException] = []

    def on_statement(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if threading.current_thread() is t2 and "audit_head" in statement:
            if BACKEND == "postgres":
                t2_pid.append(cursor.connection.info.backend_pid)
            started.set()

    def second_transaction() -> None:
        try:
            with platform.db.session() as s:
                record(s, actor="T2", action="account:test")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    t2 = threading.Thread(target=second_transaction)
    event.listen(platform.db.engine, "before_cursor_execute", on_statement)
    try:
        with platform.db.session() as s1:
            record(s1, actor="T1", action="account:test")
            t2.start()
            assert started.wait(10)
            _until_waiting(platform, t2_pid)
            record(s1, actor="T1", action="account:test")
    finally:
        event.remove(platform.db.engine, "before_cursor_execute", on_statement)
        t2.join(30)
    assert errors == []
    with platform.db.session() as s:
        rows = s.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
        assert [(r.seq, r.actor) for r in rows] == [(1, "cli:test"), (2, "T1"), (3, "T1"),
                                                    (4, "T2")]
        times = [r.at for r in rows]
        assert times == sorted(times), times
        assert verify_chain(s).ok


def _until_waiting(platform, pids: list[int]) -> None:  # type: ignore[no-untyped-def]
    """Until T2 waits for the head: on PostgreSQL, its backend waits on a lock; SQLite's
    busy wait is not visible from outside, so give it time to start."""
    if BACKEND != "postgres":
        time.sleep(0.2)
        return
    deadline = time.monotonic() + 10
    with platform.db.engine.connect() as conn:
        while True:
            waiting = conn.scalar(text("SELECT wait_event_type FROM pg_stat_activity"
                                       " WHERE pid = :pid"), {"pid": pids[0]})
            conn.rollback()  # a fresh snapshot of pg_stat_activity on every look
            if waiting == "Lock":
                return
            assert time.monotonic() < deadline, "T2 never waited for the head's lock"
            time.sleep(0.01)


def test_append_statements(platform):
    """One statement per append on PostgreSQL (bench/README.md round 5), three elsewhere;
    the first append of an empty chain creates the head on either."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    _append(platform, 1)
    event.listen(platform.db.engine, "before_cursor_execute", count)
    try:
        with platform.db.session() as s:
            before = len(statements)
            record(s, actor="cli:test", action="account:test")
            appended = len(statements) - before
    finally:
        event.remove(platform.db.engine, "before_cursor_execute", count)
    assert appended == (1 if BACKEND == "postgres" else 3)
    with platform.db.session() as s:
        assert verify_chain(s) == audit_service.ChainCheck(True, 2)


def test_verify_command_reports_intact_chain(platform, idp_cli):
    _append(platform, 4)
    result = idp_cli("audit", "verify")
    assert result.exit_code == 0
    assert "audit chain intact: 4 records" in result.output


def _tamper(platform, statement) -> None:  # type: ignore[no-untyped-def]
    with platform.db.session() as s:
        s.execute(statement)


@pytest.mark.parametrize("statement,broken,reason", [
    (update(AuditRecord).where(AuditRecord.seq == 3).values(target="someone else"), 3,
     "record altered"),
    (update(AuditRecord).where(AuditRecord.seq == 2).values(details={"i": 99}), 2,
     "record altered"),
    (update(AuditRecord).where(AuditRecord.seq == 4).values(prev_hash="f" * 64), 4,
     "link to previous record broken"),
    (delete(AuditRecord).where(AuditRecord.seq == 3), 3, "record missing"),
    (delete(AuditRecord).where(AuditRecord.seq == 1), 1, "record missing"),
    (delete(AuditRecord).where(AuditRecord.seq >= 4), 4, "records after the last one removed"),
], ids=["altered-target", "altered-details", "relinked", "deleted", "deleted-first",
        "truncated-tail"])
def test_verify_command_names_first_broken_record(platform, idp_cli, statement, broken,
                                                  reason):
    _append(platform, 5)
    _tamper(platform, statement)
    result = idp_cli("audit", "verify")
    assert result.exit_code == 1
    assert f"audit chain BROKEN at record {broken}: {reason}" in result.stderr
