"""Server-side sessions of a relying party, so a back-channel logout can end them.

The browser's cookie holds only a random local session id; who is signed in, the ID token
and the OP's ``sid`` live here (OIDC Back-Channel Logout 1.0 §2.7: the RP must be able to
find its sessions by ``sid`` and ``sub``). SQLite, because the RP may run several threads.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS rp_session (
    id TEXT PRIMARY KEY, sid TEXT, sub TEXT NOT NULL, data TEXT NOT NULL, expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rp_session_sid ON rp_session (sid);
CREATE INDEX IF NOT EXISTS rp_session_sub ON rp_session (sub);
CREATE TABLE IF NOT EXISTS seen_logout_jti (jti TEXT PRIMARY KEY, expires REAL NOT NULL);
"""


class RpSessions:
    """Local sessions keyed by a random id; findable by the OP's ``sid`` and ``sub``."""

    def __init__(self, path: Path, lifetime: int = 8 * 3600) -> None:
        self._path = path
        self._lifetime = lifetime
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._db()) as db:
            db.executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=10, isolation_level=None)

    def create(self, *, sid: str | None, sub: str, data: dict[str, Any]) -> str:
        local_id = secrets.token_urlsafe(24)
        with closing(self._db()) as db:
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

    def delete(self, local_id: str) -> None:
        with closing(self._db()) as db:
            db.execute("DELETE FROM rp_session WHERE id = ?", (local_id,))

    def end_for(self, *, sid: str | None, sub: str | None) -> int:
        """End the sessions a logout token names: by ``sid`` if given, else every one of ``sub``.

        Back-Channel Logout §2.6: with both, only the session matching both ends.
        """
        with closing(self._db()) as db:
            if sid and sub:
                cur = db.execute("DELETE FROM rp_session WHERE sid = ? AND sub = ?", (sid, sub))
            elif sid:
                cur = db.execute("DELETE FROM rp_session WHERE sid = ?", (sid,))
            else:
                cur = db.execute("DELETE FROM rp_session WHERE sub = ?", (sub,))
            return cur.rowcount

    def first_use_of_jti(self, jti: str, expires: float) -> bool:
        """Record a logout token's ``jti``; False if it was seen before (replay, §2.6 step 9)."""
        with closing(self._db()) as db:
            db.execute("DELETE FROM seen_logout_jti WHERE expires < ?", (time.time(),))
            try:
                db.execute("INSERT INTO seen_logout_jti VALUES (?, ?)", (jti, expires))
            except sqlite3.IntegrityError:
                return False
        return True
