"""Gateway state in SQLite: sessions, login transactions, seen logout-token ids.

One file shared by every worker process of the gateway (WAL mode), so a back-channel
logout received by one worker ends the session for all of them. The browser holds only a
random 256-bit token; rows are keyed by its SHA-256, so a copy of the database file does
not let anyone impersonate a signed-in person.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS session (
    key TEXT PRIMARY KEY, sub TEXT NOT NULL, sid TEXT, name TEXT NOT NULL, acr TEXT NOT NULL,
    amr TEXT NOT NULL, id_token TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL,
    last_seen REAL NOT NULL);
CREATE INDEX IF NOT EXISTS session_sid ON session (sid);
CREATE INDEX IF NOT EXISTS session_sub ON session (sub);
CREATE TABLE IF NOT EXISTS login_tx (
    state TEXT PRIMARY KEY, nonce TEXT NOT NULL, verifier TEXT NOT NULL, next TEXT NOT NULL,
    expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS seen_jti (jti TEXT PRIMARY KEY, expires REAL NOT NULL);
"""
TOUCH_EVERY = 60  # seconds: refresh last_seen at most this often (one write, not one per hit)
LOGIN_TX_TTL = 600


@dataclass(frozen=True)
class GatewaySession:
    key: str
    sub: str
    sid: str | None
    name: str
    acr: str
    amr: tuple[str, ...]
    id_token: str
    expires: float
    last_seen: float


@dataclass(frozen=True)
class LoginTx:
    state: str
    nonce: str
    verifier: str
    next: str


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    """Thread-safe access to the gateway's SQLite file (``:memory:`` for one process)."""

    def __init__(self, path: str, *, session_ttl: int, idle_timeout: int) -> None:
        self.session_ttl, self.idle_timeout = session_ttl, idle_timeout
        self._local = threading.local()
        self._path = path
        self._shared = self._connect() if path == ":memory:" else None
        self._lock = threading.Lock()
        if self._shared is not None:
            self._shared.executescript(SCHEMA)
        else:  # a connection of its own, closed: nothing open survives a fork (gunicorn)
            db = self._connect()
            try:
                db.executescript(SCHEMA)
            finally:
                db.close()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=5, isolation_level=None,
                             check_same_thread=False)
        if self._path != ":memory:":
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _db(self) -> sqlite3.Connection:
        """One connection per thread for a file (WAL readers never block); one shared
        connection, used under the lock, for ``:memory:``."""
        if self._shared is not None:
            return self._shared
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    def _run(self, sql: str, params: tuple[object, ...] = ()) -> tuple[list[tuple], int]:  # type: ignore[type-arg]
        """Execute one statement; its rows and row count (read inside the lock)."""
        if self._shared is not None:
            with self._lock:
                cur = self._shared.execute(sql, params)
                return cur.fetchall(), cur.rowcount
        cur = self._db().execute(sql, params)
        return cur.fetchall(), cur.rowcount

    # ------------------------------------------------------------ sessions

    def create_session(self, *, sub: str, sid: str | None, name: str, acr: str,
                       amr: list[str], id_token: str) -> str:
        """Start a session; return the cookie value (shown to nobody else, stored hashed)."""
        token, now = secrets.token_urlsafe(32), time.time()
        self._run("DELETE FROM session WHERE expires < ? OR last_seen < ?",
                  (now, now - self.idle_timeout))
        self._run("INSERT INTO session VALUES (?,?,?,?,?,?,?,?,?,?)",
                  (token_key(token), sub, sid, name, acr, json.dumps(amr), id_token, now,
                   now + self.session_ttl, now))
        return token

    def session(self, token: str | None) -> GatewaySession | None:
        """The live session of a cookie value, or None (unknown, expired or idle too long)."""
        if not token or len(token) > 128:
            return None
        key, now = token_key(token), time.time()
        rows, _ = self._run("SELECT key, sub, sid, name, acr, amr, id_token, expires, "
                            "last_seen FROM session WHERE key = ?", (key,))
        if not rows:
            return None
        row = rows[0]
        found = GatewaySession(row[0], row[1], row[2], row[3], row[4],
                               tuple(json.loads(row[5])), row[6], row[7], row[8])
        if found.expires < now or found.last_seen < now - self.idle_timeout:
            self._run("DELETE FROM session WHERE key = ?", (key,))
            return None
        if found.last_seen < now - TOUCH_EVERY:
            self._run("UPDATE session SET last_seen = ? WHERE key = ?", (now, key))
        return found

    def end_session(self, key: str) -> None:
        self._run("DELETE FROM session WHERE key = ?", (key,))

    def end_for(self, *, sid: str | None, sub: str | None) -> int:
        """End the sessions a logout token names (Back-Channel Logout §2.6): by ``sid`` when
        given (one platform session), else every session of ``sub``."""
        if sid:
            return self._run("DELETE FROM session WHERE sid = ?", (sid,))[1]
        if sub:
            return self._run("DELETE FROM session WHERE sub = ?", (sub,))[1]
        return 0

    # ------------------------------------------------------------ login transactions

    def begin_login(self, *, nonce: str, verifier: str, next_url: str) -> str:
        state, now = secrets.token_urlsafe(24), time.time()
        self._run("DELETE FROM login_tx WHERE expires < ?", (now,))
        self._run("INSERT INTO login_tx VALUES (?,?,?,?,?)",
                  (state, nonce, verifier, next_url, now + LOGIN_TX_TTL))
        return state

    def take_login(self, state: str) -> LoginTx | None:
        """The transaction of ``state``, removed so it is used at most once."""
        if not state or len(state) > 128:
            return None
        rows, _ = self._run("DELETE FROM login_tx WHERE state = ? AND expires >= ? "
                            "RETURNING state, nonce, verifier, next", (state, time.time()))
        return LoginTx(*rows[0]) if rows else None

    # ------------------------------------------------------------ logout token replay

    def first_use_of_jti(self, jti: str, expires: float) -> bool:
        now = time.time()
        self._run("DELETE FROM seen_jti WHERE expires < ?", (now,))
        return self._run("INSERT OR IGNORE INTO seen_jti VALUES (?, ?)", (jti, expires))[1] == 1
