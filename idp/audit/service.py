"""Append to and verify the audit chain (R-53).

Details must already be masked: callers pass masked numbers, never secrets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.audit.models import AuditHead, AuditRecord
from idp.db import utcnow

GENESIS = "0" * 64
# Statements built once (hot paths audit every token issued).
_HEAD = AuditHead.__table__
_BUMP = (update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + 1)
         .returning(_HEAD.c.seq, _HEAD.c.last_hash))
_LINK = update(_HEAD).where(_HEAD.c.id == 1).values(last_hash=bindparam("digest"))
_INSERT = insert(AuditRecord.__table__)
_FIELDS = ("seq", "at", "actor", "action", "target", "outcome", "address", "details",
           "prev_hash", "hash")
# PostgreSQL: the insert and the link in one statement (a data-modifying CTE runs even when
# the outer statement does not read it), so an append is two round trips instead of three.
# Bind names are prefixed: a name equal to one of audit_head's columns would become a SET.
_INSERT_AND_LINK = (
    update(_HEAD).where(_HEAD.c.id == 1).values(last_hash=bindparam("a_hash"))
    .add_cte(insert(AuditRecord.__table__)
             .values({name: bindparam(f"a_{name}") for name in _FIELDS}).cte("appended")))


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
    # Core statements: bump-and-read, then insert and link (one CTE statement on
    # PostgreSQL, two elsewhere) — hot paths audit.
    head = _bump_head(session)
    if head is None:
        _create_head(session)
        head = _bump_head(session)
        assert head is not None
    seq, prev_hash = head
    at = utcnow()
    digest = _digest(prev_hash, seq, at, actor, action, target, outcome, address, details)
    values = dict(seq=seq, at=at, actor=actor, action=action, target=target, outcome=outcome,
                  address=address, details=details, prev_hash=prev_hash, hash=digest)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_INSERT_AND_LINK, {f"a_{k}": v for k, v in values.items()})
    else:
        session.execute(_INSERT, values)
        session.execute(_LINK, {"digest": digest})
    session.flush()  # as before: the caller's pending changes are written with the event
    return AuditRecord(**values)


def _bump_head(session: Session) -> tuple[int, str] | None:
    """Take the next sequence number; returns it with the previous hash (None: no head)."""
    row = session.execute(_BUMP).first()
    return None if row is None else (int(row[0]), str(row[1]))


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
