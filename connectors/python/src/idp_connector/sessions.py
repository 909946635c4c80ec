"""Server-side sessions of a relying party, findable by the platform's ``sid`` and ``sub``.

The browser's cookie holds only a random local id; the person, tokens and the OP's ``sid``
stay on the server, so a back-channel logout can end them (OIDC Back-Channel Logout 1.0 §2.7)
and tokens never reach the browser. `MemorySessionStore` serves one process;
`SqliteSessionStore` serves several threads or processes on one host; a system with several
hosts implements `SessionStore` over its shared database or Redis.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol


class SessionStore(Protocol):
    """Where local sessions live; every method is safe to call from several threads."""

    def create(self, *, sid: str | None, sub: str, data: dict[str, Any]) -> str:
        """Store a new session; return its random local id."""

    def get(self, local_id: str | None) -> dict[str, Any] | None:
        """The session's data, or None if unknown, ended or expired."""

    def update(self, local_id: str, data: dict[str, Any]) -> None:
        """Replace a session's data (after a token refresh)."""

    def delete(self, local_id: str) -> None:
        """End one session."""

    def end_for(self, *, sid: str | None, sub: str | None) -> int:
        """End the sessions a logout token names; return how many ended (§2.6)."""

    def first_use_of_jti(self, jti: str, expires: float) -> bool:
        """Record a logout token id; False if seen before (replay, §2.6 step 9)."""


def _matches(entry: tuple[str | None, str], sid: str | None, sub: str | None) -> bool:
    # §2.6: with both sid and sub, only the session matching both ends.
    if sid and sub:
        return entry == (sid, sub)
    return entry[0] == sid if sid else entry[1] == sub


class MemorySessionStore:
    """Sessions in this process's memory (one process; lost on restart)."""

    def __init__(self, lifetime: int = 8 * 3600) -> None:
        self._lifetime = lifetime
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[str | None, str, dict[str, Any], float]] = {}
        self._jtis: dict[str, float] = {}

    def create(self, *, sid: str | None, sub: str, data: dict[str, Any]) -> str:
        local_id = secrets.token_urlsafe(24)
        with self._lock:
            self._rows[local_id] = (sid, sub, dict(data), time.time() + self._lifetime)
        return local_id

    def get(self, local_id: str | None) -> dict[str, Any] | None:
        with self._lock:
            row = self._rows.get(local_id or "")
        if row is None or row[3] < time.time():
            return None
        return dict(row[2])

    def update(self, local_id: str, data: dict[str, Any]) -> None:
        with self._lock:
            if local_id in self._rows:
                sid, sub, _, expires = self._rows[local_id]
                self._rows[local_id] = (sid, sub, dict(data), expires)

    def delete(self, local_id: str) -> None:
        with self._lock:
            self._rows.pop(local_id, None)

    def end_for(self, *, sid: str | None, sub: str | None) -> int:
        with self._lock:
            doomed = [k for k, r in self._rows.items() if _matches((r[0], r[1]), sid, sub)]
            for key in doomed:
                del self._rows[key]
        return len(doomed)

    def first_use_of_jti(self, jti: str, expires: float) -> bool:
        now = time.time()
        with self._lock:
            self._jtis = {k: v for k, v in self._jtis.items() if v >= now}
            if jti in self._jtis:
                return False
            self._jtis[jti] = expires
        return True


SCHEMA = """
CREATE TABLE IF NOT EXISTS rp_session (
    id TEXT PRIMARY KEY, sid TEXT, sub TEXT NOT NULL, data TEXT NOT NULL, expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rp_session_sid ON rp_session (sid);
CREATE INDEX IF NOT EXISTS rp_session_sub ON rp_session (sub);
CREATE TABLE IF NOT EXISTS seen_logout_jti (jti TEXT PRIMARY KEY, expires REAL NOT NULL);
"""


class SqliteSessionStore:
    """Sessions in a SQLite file: shared by the threads and processes of one host."""

    def __init__(self, path: str | Path, lifetime: int = 8 * 3600) -> None:
        self._path = Path(path)
        self._lifetime = lifetime
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._db()) as db:
            db.executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=10, isolation_level=None)

    def create(self, *, sid: str | None, sub: str, data: dict[str, Any]) -> str:
        local_id = secrets.token_urlsafe(24)
        with closing(self._db()) as db:
            db.execute("DELETE FROM rp_session WHERE expires < ?", (time.time(),))
            db.execute("INSERT INTO rp_session VALUES (?, ?, ?, ?, ?)",
                       (local_id, sid, sub, json.dumps(data), time.time() + self._lifetime))
        return local_id

    def get(self, local_id: str | None) -> dict[str, Any] | None:
        if not local_id:
            return None
        with closing(self._db()) as db:
            row = db.execute("SELECT data, expires FROM rp_session WHERE id = ?",
                             (local_id,)).fetchone()
        if row is None or row[1] < time.time():
            return None
        return json.loads(row[0])  # type: ignore[no-any-return]

    def update(self, local_id: str, data: dict[str, Any]) -> None:
        with closing(self._db()) as db:
            db.execute("UPDATE rp_session SET data = ? WHERE id = ?", (json.dumps(data), local_id))

    def delete(self, local_id: str) -> None:
        with closing(self._db()) as db:
            db.execute("DELETE FROM rp_session WHERE id = ?", (local_id,))

    def end_for(self, *, sid: str | None, sub: str | None) -> int:
        with closing(self._db()) as db:
            if sid and sub:
                cur = db.execute("DELETE FROM rp_session WHERE sid = ? AND sub = ?", (sid, sub))
            elif sid:
                cur = db.execute("DELETE FROM rp_session WHERE sid = ?", (sid,))
            else:
                cur = db.execute("DELETE FROM rp_session WHERE sub = ?", (sub,))
            return cur.rowcount

    def first_use_of_jti(self, jti: str, expires: float) -> bool:
        with closing(self._db()) as db:
            db.execute("DELETE FROM seen_logout_jti WHERE expires < ?", (time.time(),))
            try:
                db.execute("INSERT INTO seen_logout_jti VALUES (?, ?)", (jti, expires))
            except sqlite3.IntegrityError:
                return False
        return True
