"""Append to and verify the audit chain (R-53).

Details must already be masked: callers pass masked numbers, never secrets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Insert,
    Table,
    Text,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.audit.models import AuditHead, AuditRecord
from idp.db import loaded_copy, utcnow

GENESIS = "0" * 64
# Statements built once (hot paths audit every token issued).
_HEAD: Table = AuditHead.__table__  # type: ignore[assignment]
_RECORD: Table = AuditRecord.__table__  # type: ignore[assignment]
_BUMP = (update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + 1)
         .returning(_HEAD.c.seq, _HEAD.c.last_hash))
_LINK = update(_HEAD).where(_HEAD.c.id == 1).values(last_hash=bindparam("digest"))
_INSERT = insert(_RECORD)
# The fields the caller gives; ``at`` is taken under the head's lock (`record`).
_GIVEN = ("actor", "action", "target", "outcome", "address", "details")
# to_char pattern of `_iso`: "2026-11-22T15:01:02.123456+00:00" (US: always six digits).
_ISO_UTC = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'""")


def _iso_utc(at: ColumnElement[Any]) -> ColumnElement[str]:
    """PostgreSQL: the text `_iso` gives for the timestamptz ``at``, whatever the session's
    TimeZone (``timezone('UTC', at)`` is ``at AT TIME ZONE 'UTC'``: the UTC wall time)."""
    return func.to_char(func.timezone(literal_column("'UTC'"), at), _ISO_UTC)


def append_statement(clock: ColumnElement[Any] | None = None, *,
                     after: CTE | None = None) -> Insert:
    """PostgreSQL: the whole append as one statement (R-53; bench/README.md round 5).

    ``locked`` locks the head row (FOR UPDATE: under READ COMMITTED a concurrent append makes
    it wait, then read the head as that append committed it), so appends stay ordered by
    the head's row lock as before. ``stamped`` reads the clock (``clock_timestamp()``, the
    time of the call, not of the transaction) once per append, only once ``locked`` has
    produced its row, i.e. with the lock held: so ``at`` never goes back as ``seq`` goes on
    (review of 2aec45a). It is a separate, MATERIALIZED CTE because the select list of a
    FOR UPDATE query is computed before its rows are locked, and a volatile call written
    twice gives two values. ``bumped`` advances the head and computes the record's hash in
    SQL — ``sha256(prev_hash || body)`` over the UTF-8 bytes, ``body`` being `_digest`'s
    JSON array: ``[seq,"at",`` then ``tail``, the rest of that array serialised by Python
    (`_tail`), with ``at`` formatted as `_iso` does (`_iso_utc`), so the bytes are the ones
    `verify_chain` recomputes. Its RETURNING hands the new seq, ``at``, the previous hash
    and the new hash to the INSERT of the record (one row lock, one round trip; no head:
    nothing inserted). ``clock`` replaces ``clock_timestamp()`` in the golden-hash test.
    ``after``: append only if this CTE of the caller's (a change the event records, made
    in the same statement) returns a row — it runs first, and without it nothing happens.
    """
    # Constants inline, not bound: fewer parameters to process on every append.
    locked = select(_HEAD.c.id, _HEAD.c.seq, _HEAD.c.last_hash).where(
        _HEAD.c.id == literal_column("1"))
    if after is not None:
        locked = locked.where(exists(select(literal_column("1")).select_from(after)))
    locked = locked.with_for_update().cte("locked")
    now = func.clock_timestamp() if clock is None else clock
    stamped = select(locked, now.label("at")).cte("stamped").prefix_with("MATERIALIZED")
    seq = stamped.c.seq + literal_column("1")
    body: ColumnElement[str] = (literal_column("'['") + cast(seq, Text)
                                + literal_column("""',"'""") + _iso_utc(stamped.c.at)
                                + literal_column("""'",'""") + bindparam("a_tail", type_=Text))
    digest = func.encode(func.sha256(func.convert_to(stamped.c.last_hash + body,
                                                     literal_column("'UTF8'"))),
                         literal_column("'hex'"))
    bumped = (update(_HEAD).where(_HEAD.c.id == stamped.c.id).values(seq=seq, last_hash=digest)
              .returning(_HEAD.c.seq, stamped.c.at, stamped.c.last_hash.label("prev_hash"),
                         _HEAD.c.last_hash.label("hash"))
              .cte("bumped"))
    # Bind names are prefixed: a name equal to one of audit_head's columns would become a SET.
    given = [bindparam(f"a_{name}", type_=_RECORD.c[name].type) for name in _GIVEN]
    return (insert(_RECORD)
            .from_select(["seq", "at", *_GIVEN, "prev_hash", "hash"],
                         select(bumped.c.seq, bumped.c.at, *given, bumped.c.prev_hash,
                                bumped.c.hash))
            .returning(_RECORD.c.seq, _RECORD.c.at, _RECORD.c.prev_hash, _RECORD.c.hash))


APPEND = append_statement()
# The head exists (created by the chain's first append): `append_statement` can append.
HEAD_EXISTS = exists().where(_HEAD.c.id == literal_column("1"))


def _serialise(items: list[Any]) -> str:
    return json.dumps(items, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _digest(prev_hash: str, seq: int, at: dt.datetime, actor: str, action: str, target: str,
            outcome: str, address: str, details: dict[str, Any]) -> str:
    body = _serialise([seq, _iso(at), *_after_at(actor, action, target, outcome, address,
                                                 details)])
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def _iso(at: dt.datetime) -> str:
    """How ``at`` is hashed: UTC ISO 8601 with microseconds (`_iso_utc` in SQL)."""
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _after_at(actor: str, action: str, target: str, outcome: str, address: str,
              details: dict[str, Any]) -> list[Any]:
    """The hashed fields after ``seq`` and ``at``, in order."""
    return [actor, action, target, outcome, address, details]


def _tail(**given: Any) -> str:
    """`_digest`'s body without its opening ``[seq,"at",``: a JSON array's elements are
    joined by "," and an int serialises as its decimal digits, ``at`` (`_iso`: ASCII
    digits and ``-:.+T``) as itself in quotes, so ``[`` + seq + ``,"`` + at + ``",`` + tail
    is exactly `_digest`'s body (`APPEND` adds that prefix in SQL)."""
    return _serialise(_after_at(**given))[1:]


def record(session: Session, *, actor: str, action: str, target: str = "",
           outcome: str = "success", address: str = "",
           details: dict[str, Any] | None = None) -> AuditRecord:
    """Append one event in the caller's transaction, so it commits with the operation.

    ``at`` is taken once the head is locked, so it never decreases as ``seq`` increases
    (for appenders on one clock), however long an append waited for the lock.
    """
    given = given_fields(actor=actor, action=action, target=target, outcome=outcome,
                         address=address, details=details)
    # Row lock on the head (PostgreSQL) / write lock (SQLite) orders concurrent appends.
    if session.get_bind().dialect.name == "postgresql":
        values = _append_in_one(session, given)
    else:
        values = _append_in_three(session, given)
    session.flush()  # as before: the caller's pending changes are written with the event
    return loaded_copy(AuditRecord, values)


def given_fields(*, actor: str, action: str, target: str = "", outcome: str = "success",
                 address: str = "", details: dict[str, Any] | None = None) -> dict[str, Any]:
    """An event's fields as `record` takes them (``details`` defaults to ``{}``)."""
    return dict(actor=actor, action=action, target=target, outcome=outcome, address=address,
                details=details or {})


def append_params(given: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL: the parameters of `APPEND` for the event ``given`` (`given_fields`)."""
    params = {f"a_{k}": v for k, v in given.items()}
    params["a_tail"] = _tail(**given)
    return params


def appended(row: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The record's values from `APPEND`'s returned row (seq, at, prev_hash, hash)."""
    seq, at, prev_hash, digest = row
    # In UTC like `utcnow` (the driver gives the session's TimeZone).
    return dict(seq=int(seq), at=at.astimezone(dt.UTC), **given, prev_hash=prev_hash,
                hash=digest)


def _append_in_one(session: Session, given: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL: one statement (`APPEND`, which reads the clock under the head's lock);
    the head is created on the very first append."""
    params = append_params(given)
    row = session.execute(APPEND, params).first()
    if row is None:  # no head yet
        _create_head(session)
        row = session.execute(APPEND, params).first()
        assert row is not None
    return appended(row, given)


def _append_in_three(session: Session, given: dict[str, Any]) -> dict[str, Any]:
    """Other databases: bump-and-read the head, insert the record, link the head. ``at`` is
    taken after the bump, which holds the write lock until the transaction ends."""
    head = _bump_head(session)
    if head is None:
        _create_head(session)
        head = _bump_head(session)
        assert head is not None
    seq, prev_hash = head
    at = utcnow()
    digest = _digest(prev_hash, seq, at, **given)
    values = dict(seq=seq, at=at, **given, prev_hash=prev_hash, hash=digest)
    session.execute(_INSERT, values)
    session.execute(_LINK, {"digest": digest})
    return values


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
