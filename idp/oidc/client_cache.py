"""Per-process cache of client registrations, checked against a version in the Store.

Every token, introspection and revocation request authenticates a client; reading its row
from the database each time was the largest cost of the client_credentials grant (issue 2
"Performance"). Each process therefore keeps the clients it has read, and on every lookup
compares one shared *version* (a random value in the Store, one GET) with the version it
read them under; any change to any client replaces the version, so a disabled client, a
rotated secret or a changed access policy takes effect on the very next request in every
process (issue 4 item 7) — the same guarantee as reading the database each time.

The version is replaced after the commit of every ORM unit of work that inserted, changed
or deleted a client, or ran an ORM ``update``/``delete`` on the client table
(`watch`) — the commit of the *root* transaction: releasing a SAVEPOINT (which SQLAlchemy
also reports as ``after_commit``) commits nothing, and rolling one back keeps what the
transaction changed before it. Writers that bypass the ORM (raw SQL) are caught by
`MAX_AGE`: an entry is never trusted for longer than that.

A missing version (a flushed or evicted Store) read means "read the database", never
"unchanged": it is recreated with a fresh random value (SET NX) before the row is read, so
no entry is ever kept under a missing version. (A process answering the version from
memory reads it again within `store_watch.TRUST_SECONDS`; a change meanwhile is announced.)

Cached clients are transient ``Client`` instances (never attached to a session), shared by
the threads of the process read-only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from idp.crypto import random_token
from idp.db import on_root_commit
from idp.oidc.models import Client
from idp.store import Store

VERSION_KEY = "oidc-clients:version"
VERSION_TTL = 30 * 86400
MAX_AGE = 60.0
MAX_ENTRIES = 10_000  # a bound, not a tuning knob: departments number in the hundreds
_CHANGED = "oidc.clients_changed"
_TABLE = Client.__table__  # type: ignore[attr-defined]
_SELECT = select(*_TABLE.columns).where(_TABLE.c.client_id == bindparam("client_id"))
def load(session: Session, client_id: str) -> Client | None:
    """Read one registration with a Core select (no identity map, no unit of work)."""
    row = session.execute(_SELECT, {"client_id": client_id}).first()
    if row is None:
        return None
    return Client(**row._asdict())


class ClientCache:
    def __init__(self, store: Store, secret_key: str) -> None:
        self._store = store
        self._secret_key = secret_key
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Client | None, float]] = {}
        self._version: str | None = None

    def version(self) -> str | None:
        """The shared version (a watched key: from memory while unchanged, store_watch.py)."""
        return self._store.watched_get(VERSION_KEY)

    def _ensure(self) -> str | None:
        """A missing version recreated before the row is read (a concurrent writer's value
        wins: SET NX); None if it vanished again meanwhile (then cache nothing)."""
        fresh = random_token(12)
        return fresh if self._store.announce_add(VERSION_KEY, fresh, VERSION_TTL) \
            else self._store.get(VERSION_KEY)  # the winner's, read past the watch

    def get(self, client_id: str, loader: Callable[[str], Client | None]) -> Client | None:
        """The client (None when unknown), from memory while the version is unchanged."""
        current = self.version()
        if current is None:  # missing: the database, and a new version to cache under
            current = self._ensure()
        now = time.monotonic()
        with self._lock:
            if current is None or current != self._version:
                self._entries.clear()
                self._version = current
            hit = self._entries.get(client_id)
        if hit is not None and now - hit[1] < MAX_AGE:
            return hit[0]
        client = loader(client_id)
        if client is not None:
            # `check_client_secret` reads the node key from the instance (models.Client).
            client.node_secret_key = self._secret_key  # type: ignore[attr-defined]
        with self._lock:
            # Not when the version moved while we read, nor under no version at all.
            if current is not None and current == self._version:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[client_id] = (client, now)
        return client

    def invalidate(self) -> None:
        """Make every process re-read its clients (called after a committed change)."""
        self._store.announce(VERSION_KEY, random_token(12), VERSION_TTL)
        with self._lock:
            self._entries.clear()


def watch(sessions: sessionmaker[Session], cache: ClientCache) -> None:
    """Invalidate `cache` after every commit that changed a client through the ORM."""

    def after_flush(session: Session, _context: Any) -> None:
        if any(isinstance(o, Client) for o in (*session.new, *session.dirty, *session.deleted)):
            session.info[_CHANGED] = True

    def do_orm_execute(state: ORMExecuteState) -> None:
        if (state.is_update or state.is_delete) and any(
                mapper.class_ is Client for mapper in state.all_mappers):
            state.session.info[_CHANGED] = True

    event.listen(sessions, "after_flush", after_flush)
    event.listen(sessions, "do_orm_execute", do_orm_execute)
    on_root_commit(sessions, _CHANGED, lambda _changed: cache.invalidate())
