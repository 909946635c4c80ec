"""The hash-chained operation log and ``idp audit verify`` (R-53, issue 2 §8)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, select, update

from idp.audit.models import AuditRecord
from idp.audit.service import record, verify_chain


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


def test_concurrent_appends_keep_one_valid_chain(platform):
    """Two threads, each with its own sessions (on postgres: real concurrent transactions)."""
    errors: list[BaseException] = []

    def work(actor: str) -> None:
        try:
            _append(platform, 15, actor)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with platform.db.session() as s:
        result = verify_chain(s)
        assert result.ok and result.checked == 30
        actors = s.scalars(select(AuditRecord.actor)).all()
        assert sorted(set(actors)) == ["t0", "t1"]


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
