"""Per-person versions in the Store: what a per-process copy of a person is checked against.

Userinfo and introspection keep the persons they read in process memory
(`idp.oidc.person_cache`) and compare, on every request, the versions a copy was read under
with the current ones, read with the revocation list (watched keys, usually from memory). So every
committed change to what such a copy holds (`WATCHED`: status — ban, unban, closure —
``security_epoch`` — password reset, ban — and the claim columns: name, phone, document,
real-name level) must replace the person's version; `watch` does it for every unit of work of
the node's session factory that changed one:

- ORM changes: any watched attribute of a dirty ``Person``, or a deleted one (``after_flush``);
- Core statements, ORM-enabled or on the plain table — ``session.execute(update(Person)…)``,
  ``update(Person.__table__)…``, ``delete(…)``: the person named by ``Person.id == …`` /
  ``Person.id.in_(…)``; any other ``WHERE``, an upsert (``INSERT … ON CONFLICT``), or raw SQL
  text that writes and names the table replaces the version of *every* person (`ALL_KEY`).

Twice: when the change is made (before the commit) and after the commit of the *root*
transaction.

- Before: so a Store that fails makes the write fail (the error propagates, the transaction
  rolls back) instead of leaving copies trusted for `person_cache.MAX_AGE` after a ban or a
  password reset (fail closed).
- After, never only before: a reader reads the versions before the row, so a copy read while
  a writer commits is stored under the (early) version, and the writer's post-commit version
  makes the next request read again. Only the root transaction's commit counts: SQLAlchemy
  also fires ``after_commit`` when a SAVEPOINT is released (``begin_nested``), while the
  outer transaction — and the change — is still uncommitted; the marks are kept until the
  real commit (or dropped by the root's rollback; a rolled-back savepoint keeps them: one
  bump too many is harmless, one too few is not).

A missing key read from Redis never means "unchanged" — Redis may have been flushed or
evicted it, or it expired: `ensure` gives it a fresh random value (SET NX, so a concurrent
writer's value wins) before the reader reads the row. Values are random, never counters, so
a key recreated after a flush cannot repeat a value cached before it.

The keys are watched (`idp.store_watch`): `bump` and `ensure` announce every write, so a
process answers them from memory while no announcement says otherwise — for at most
`store_watch.TRUST_SECONDS` after a loss it was not told of (a flush, an eviction).

Writers outside the session factory (a raw connection) are not seen: there are none
(`grep`), and `idp.oidc.person_cache.MAX_AGE` bounds what a missed change could cost.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, TextClause

from idp.accounts.models import Person
from idp.crypto import random_token
from idp.db import on_root_commit
from idp.store import Store

log = logging.getLogger(__name__)

ALL_KEY = "person-version:all"
ALL_TTL = 30 * 86400
# A person's key: recreated (one database read per process) once it expired. Short, so the
# Store holds keys only for persons whose tokens are in use (access tokens live 10 minutes).
TTL = 3600
# What `idp.oidc.person_cache` holds of a person; a change to anything else needs no bump.
WATCHED = ("sub", "id_type", "id_number_enc", "name_enc", "phone_enc", "status",
           "realname_level", "security_epoch")
_PENDING = "accounts.person_versions"  # session.info: ids changed, or ALL_KEY
_TABLE = Person.__table__  # type: ignore[attr-defined]
# Raw SQL text: a statement that may change existing rows (``FOR UPDATE`` locks, it does not
# write) and names the table, quoted or schema-qualified (``"public"."person"``; not
# ``person_link`` nor ``person_id``). Erring on the side of a bump: it only costs a re-read.
_RAW_WRITES = re.compile(
    r"\b(update|delete|merge|truncate|upsert)\b|\b(replace\s+into|or\s+replace|on\s+conflict"
    r"|on\s+duplicate)\b", re.IGNORECASE)
_RAW_LOCK = re.compile(r"\bfor\s+(no\s+key\s+)?update\b", re.IGNORECASE)
_RAW_PERSON = re.compile(r"(?<![\w$])person(?![\w$])", re.IGNORECASE)


def key(person_id: int) -> str:
    return f"person-version:{person_id}"


def keys(person_id: int) -> list[str]:
    """The Store keys a copy of the person is valid under: every person's, then its own."""
    return [ALL_KEY, key(person_id)]


def ensure(store: Store, names: Sequence[str], values: Sequence[str | None]
           ) -> tuple[str, ...] | None:
    """The versions to store a copy under, read *before* the row: ``values`` as read, a
    missing one created. None when one vanished meanwhile (then cache nothing)."""
    if all(v is not None for v in values):
        return tuple(values)  # type: ignore[arg-type]
    found: list[str] = []
    for name, value in zip(names, values, strict=True):
        if value is None:
            fresh = random_token(12)
            value = fresh if store.announce_add(name, fresh,
                                                ALL_TTL if name == ALL_KEY else TTL) \
                else store.get(name)
            if value is None:
                return None
        found.append(value)
    return tuple(found)


def bump(store: Store, changed: Iterable[int | str]) -> None:
    """Replace the versions of ``changed`` (person ids, or `ALL_KEY` for everyone)."""
    for item in changed:
        name = ALL_KEY if item == ALL_KEY else key(int(item))
        store.announce(name, random_token(12), ALL_TTL if name == ALL_KEY else TTL)


def _watched_change(person: Person) -> bool:
    attrs = inspect(person).attrs
    return any(attrs[name].history.has_changes() for name in WATCHED)


def _ids_of(state: ORMExecuteState) -> set[int] | None:
    """Person ids an ORM ``update``/``delete`` statement is limited to, if it says so plainly:
    ``Person.id == x``, ``Person.id.in_(…)``, or a bulk update by primary key."""
    params = state.parameters
    if isinstance(params, list):  # ORM bulk UPDATE by primary key: one dict per row
        ids = {row.get("id") for row in params}
        return ids if all(isinstance(i, int) for i in ids) else None  # type: ignore[return-value]
    where = getattr(state.statement, "whereclause", None)
    if not isinstance(where, BinaryExpression) or not isinstance(where.right, BindParameter):
        return None
    left = where.left
    if getattr(left, "table", None) is not _TABLE or getattr(left, "key", None) != "id":
        return None
    value = where.right.effective_value
    if value is None and isinstance(params, dict):
        value = params.get(where.right.key)
    if where.operator is operators.eq:
        value = [value]
    elif where.operator is not operators.in_op:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(i, int) for i in value):
        return None
    return set(value)


def _raw_write(sql: str) -> bool:
    """Raw SQL that may change a person row: it writes and names the table."""
    return bool(_RAW_PERSON.search(sql)) and bool(_RAW_WRITES.search(_RAW_LOCK.sub(" ", sql)))


def _on_person_table(state: ORMExecuteState) -> bool:
    """An ORM-enabled statement on ``Person``, or a Core one on its plain table (whose
    ``all_mappers`` is empty: ``update(Person.__table__)``)."""
    return (getattr(state.statement, "table", None) is _TABLE
            or any(mapper.class_ is Person for mapper in state.all_mappers))


def touched(state: ORMExecuteState) -> set[int | str] | None:
    """What a statement run through a session may change of persons: their ids, `ALL_KEY`
    (anyone), or None (nothing a copy holds). Selects cost one attribute test."""
    statement = state.statement
    if isinstance(statement, TextClause):
        return {ALL_KEY} if _raw_write(statement.text) else None
    if not getattr(statement, "is_dml", False) or not _on_person_table(state):
        return None
    if state.is_insert:  # new persons have no copies; an upsert may change an existing one
        return {ALL_KEY} if getattr(statement, "_post_values_clause", None) is not None \
            else None
    if not (state.is_update or state.is_delete):
        return None
    ids = _ids_of(state)
    return ids if ids is not None else {ALL_KEY}


def watch(sessions: sessionmaker[Session], store: Store) -> None:
    """Replace the versions of the persons each unit of work of ``sessions`` changed
    (`WATCHED`): when the change is made, and after the root transaction's commit.
    Called once per node (`Platform.build`)."""

    def mark(session: Session, items: Iterable[int | str]) -> None:
        pending: set[int | str] = session.info.setdefault(_PENDING, set())
        new = set(items) - pending
        if new:
            # Pending first: should a caller swallow the Store error and commit anyway,
            # the post-commit bump still tries.
            pending.update(new)
            # Before the commit, raising: a Store failure rolls the write back (fail
            # closed) instead of leaving the copies trusted for person_cache.MAX_AGE.
            bump(store, new)

    def after_flush(session: Session, _context: Any) -> None:
        changed = [obj.id for obj in session.dirty
                   if isinstance(obj, Person) and _watched_change(obj)]
        changed += [obj.id for obj in session.deleted if isinstance(obj, Person)]
        if changed:
            mark(session, changed)

    def on_execute(state: ORMExecuteState) -> None:
        found = touched(state)
        if found:
            mark(state.session, found)

    def bump_committed(changed: set[int | str]) -> None:
        try:
            bump(store, changed)
        except Exception:  # noqa: BLE001 - committed already; the early bump was made
            log.exception("person versions not replaced after commit: %s",
                          sorted(map(str, changed)))

    event.listen(sessions, "after_flush", after_flush)
    event.listen(sessions, "do_orm_execute", on_execute)
    on_root_commit(sessions, _PENDING, bump_committed)
