"""Append to and verify the audit chain (R-53).

Details must already be masked: callers pass masked numbers, never secrets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.audit.models import AuditHead, AuditRecord
from idp.db import utcnow

GENESIS = "0" * 64


def _digest(prev_hash: str, seq: int, at: dt.datetime, actor: str, action: str, target: str,
            outcome: str, address: str, details: dict[str, Any]) -> str:
    body = json.dumps(
        [seq, at.astimezone(dt.UTC).isoformat(timespec="microseconds"), actor, action, target,
         outcome, address, details],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def record(session: Session, *, actor: str, action: str, target: str = "",
           outcome: str = "success", address: str = "",
           details: dict[str, Any] | None = None) -> AuditRecord:
    """Append one event in the caller's transaction, so it commits with the operation."""
    details = details or {}
    # Row lock on the head (PostgreSQL) / write lock (SQLite) orders concurrent appends.
    if not _bump_head(session):
        _create_head(session)
        _bump_head(session)
    # populate_existing: one round trip that also refreshes a head already in the session.
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)
                           .execution_options(populate_existing=True)).scalar_one()
    at = utcnow()
    digest = _digest(head.last_hash, head.seq, at, actor, action, target, outcome, address,
                     details)
    entry = AuditRecord(seq=head.seq, at=at, actor=actor, action=action, target=target,
                        outcome=outcome, address=address, details=details,
                        prev_hash=head.last_hash, hash=digest)
    session.add(entry)
    head.last_hash = digest
    session.flush()
    return entry


def _bump_head(session: Session) -> bool:
    bumped = session.execute(update(AuditHead).where(AuditHead.id == 1)
                             .values(seq=AuditHead.seq + 1))
    return bool(bumped.rowcount)  # type: ignore[attr-defined]


def _create_head(session: Session) -> None:
    """Create the chain's head once; a concurrent creator winning is fine."""
    try:
        with session.begin_nested():
            session.add(AuditHead(id=1, seq=0, last_hash=GENESIS))
    except IntegrityError:
        pass


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    checked: int
    first_broken: int | None = None
    reason: str = ""


def verify_chain(session: Session, batch: int = 5000) -> ChainCheck:
    """Walk the chain in order; name the first record whose hash or link is wrong."""
    prev = GENESIS
    expected_seq = 1
    checked = 0
    last_seq = 0
    while True:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.seq > last_seq)
                               .order_by(AuditRecord.seq).limit(batch)).all()
        if not rows:
            break
        for r in rows:
            if r.seq != expected_seq:
                return ChainCheck(False, checked, expected_seq, "record missing")
            if r.prev_hash != prev:
                return ChainCheck(False, checked, r.seq, "link to previous record broken")
            if _digest(prev, r.seq, r.at, r.actor, r.action, r.target, r.outcome, r.address,
                       r.details) != r.hash:
                return ChainCheck(False, checked, r.seq, "record altered")
            prev = r.hash
            expected_seq += 1
            checked += 1
            last_seq = r.seq
        session.expunge_all()
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != checked or head.last_hash != prev):
        return ChainCheck(False, checked, checked + 1, "records after the last one removed")
    return ChainCheck(True, checked)
