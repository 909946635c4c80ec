"""Per-person versions in the Store: what a per-process copy of a person is checked against.

Userinfo and introspection keep the persons they read in process memory
(`idp.oidc.person_cache`) and compare, on every request, the versions a copy was read under
with the current ones, read in the same Store round trip as the revocation list. So every
committed change to what such a copy holds (`WATCHED`: status — ban, unban, closure —
``security_epoch`` — password reset, ban — and the claim columns: name, phone, document,
real-name level) must replace the person's version; `watch` does it after the commit of every
unit of work of the node's session factory that changed one:

- ORM changes: any watched attribute of a dirty ``Person``, or a deleted one (``after_flush``);
- ORM-enabled Core statements, ``session.execute(update(Person)…)`` / ``delete(Person)``:
  the person named by ``Person.id == …`` / ``Person.id.in_(…)``, any other ``WHERE`` (or raw
  SQL text touching the table) replaces the version of *every* person (`ALL_KEY`).

After the commit, never before: a reader reads the versions before the row, so a copy read
while a writer commits is stored under the old version, and the writer's new version makes
the next request read again. A missing key never means "unchanged" — Redis may have been
flushed or evicted it, or it expired: `ensure` gives it a fresh random value (SET NX, so a
concurrent writer's value wins) before the reader reads the row. Values are random, never
counters, so a key recreated after a flush cannot repeat a value cached before it.

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
_RAW_WRITE = re.compile(r"\b(update|delete\s+from)\s+\"?person\"?(\s|$)", re.IGNORECASE)


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
            value = fresh if store.add(name, fresh, ALL_TTL if name == ALL_KEY else TTL) \
                else store.get(name)
            if value is None:
                return None
        found.append(value)
    return tuple(found)


def bump(store: Store, changed: Iterable[int | str]) -> None:
    """Replace the versions of ``changed`` (person ids, or `ALL_KEY` for everyone)."""
    for item in changed:
        name = ALL_KEY if item == ALL_KEY else key(int(item))
        store.set(name, random_token(12), ALL_TTL if name == ALL_KEY else TTL)


def _mark(session: Session, *items: int | str) -> None:
    session.info.setdefault(_PENDING, set()).update(items)


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


def _on_execute(state: ORMExecuteState) -> None:
    if isinstance(state.statement, TextClause):
        if _RAW_WRITE.search(state.statement.text):
            _mark(state.session, ALL_KEY)
        return
    if not (state.is_update or state.is_delete):
        return
    if not any(mapper.class_ is Person for mapper in state.all_mappers):
        return
    ids = _ids_of(state)
    _mark(state.session, *(ids if ids is not None else (ALL_KEY,)))


def watch(sessions: sessionmaker[Session], store: Store) -> None:
    """Replace the versions of the persons each committed unit of work of ``sessions``
    changed (`WATCHED`), after its commit. Called once per node (`Platform.build`)."""

    def after_flush(session: Session, _context: Any) -> None:
        for obj in session.dirty:
            if isinstance(obj, Person) and _watched_change(obj):
                _mark(session, obj.id)
        for obj in session.deleted:
            if isinstance(obj, Person):
                _mark(session, obj.id)

    def after_commit(session: Session) -> None:
        changed = session.info.pop(_PENDING, None)
        if not changed:
            return
        try:
            bump(store, changed)
        except Exception:  # noqa: BLE001 - committed already; person_cache.MAX_AGE bounds it
            log.exception("person versions not replaced after commit: %s",
                          sorted(map(str, changed)))

    def after_transaction_end(session: Session, transaction: Any) -> None:
        # Only when the outermost transaction ends (a rolled-back savepoint keeps what the
        # transaction changed before it: one bump too many is harmless, one too few is not).
        if transaction.parent is None:
            session.info.pop(_PENDING, None)

    event.listen(sessions, "after_flush", after_flush)
    event.listen(sessions, "do_orm_execute", _on_execute)
    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_transaction_end", after_transaction_end)
