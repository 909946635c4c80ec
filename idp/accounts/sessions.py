"""Single sign-on sessions kept in the Store (R-32, DESIGN.md).

A browser holds only a random session id in a cookie. The session records who signed in,
when (``auth_time``), how (``amr``), at what level (``acr``), the person's security epoch
at that moment, and which clients received tokens from it — for back-channel logout.
Idle timeout and absolute lifetime are enforced here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields
from typing import Any

from idp.crypto import keyed_digest, random_token
from idp.store import Batch, Store, batch, get_json

COOKIE_NAME = "idp_sso"


def public_sid(secret_key: str, sid: str) -> str:
    """The session as relying parties see it (the ``sid`` claim of ID, access and logout
    tokens): a keyed digest, because ``sid`` itself is the browser's session cookie and a
    department system, or anyone reading an ``id_token_hint``, must not be able to use it."""
    return keyed_digest(secret_key, f"sid\x00{sid}")[:32]


@dataclass
class SsoSession:
    sid: str
    person_id: int
    sub: str
    epoch: int
    auth_time: int
    amr: list[str]
    acr: str
    created: int
    last_seen: int
    # Second factor or forced password change still pending: not yet a usable session.
    pending: list[str] = field(default_factory=list)
    # The legal person the user chose to act for (None: themself), per DESIGN.md step 4.
    acting_for: str | None = None

    @property
    def complete(self) -> bool:
        return not self.pending

    def as_json_object(self) -> dict[str, Any]:
        """``dataclasses.asdict`` without its deep copy (the dict is serialised at once):
        the same keys in the same order, for a fraction of the CPU (bench/README.md,
        round 6)."""
        return {name: getattr(self, name) for name in _SESSION_FIELDS}


_SESSION_FIELDS = tuple(f.name for f in fields(SsoSession))


class SessionStore:
    """Create, load, refresh and end SSO sessions."""

    def __init__(self, store: Store, idle_timeout: int, absolute_lifetime: int) -> None:
        self._store = store
        self.idle = idle_timeout
        self.absolute = absolute_lifetime

    def _ttl(self, s: SsoSession, now: int) -> int:
        return max(1, min(self.idle, s.created + self.absolute - now))

    def _save(self, s: SsoSession, now: int) -> None:
        # The session and its entry in the person's index in one round trip (MULTI/EXEC):
        # a ban's `end_all` never sees the session without its index entry.
        with batch(self._store) as writes:
            writes.set_json(f"sso:{s.sid}", s.as_json_object(), self._ttl(s, now))
            writes.sadd(f"sso-person:{s.person_id}", s.sid, self.absolute)

    def start(self, *, person_id: int, sub: str, epoch: int, amr: list[str], acr: str,
              pending: list[str] | None = None,
              acting_for: str | None = None) -> SsoSession:
        """Begin a new session (a fresh id every login, against session fixation)."""
        now = int(time.time())
        s = SsoSession(sid=random_token(32), person_id=person_id, sub=sub, epoch=epoch,
                       auth_time=now, amr=amr, acr=acr, created=now, last_seen=now,
                       pending=list(pending or []), acting_for=acting_for)
        self._save(s, now)
        return s

    @staticmethod
    def key(sid: str | None) -> str | None:
        """The Store key of session ``sid`` (None for no or a malformed id), so a caller can
        read it in the same `Store.mget` as other keys and pass the value to `load`."""
        return f"sso:{sid}" if sid and len(sid) <= 64 else None

    def load(self, sid: str | None) -> SsoSession | None:
        """The live session for ``sid``, refreshing its idle timer at most once a minute."""
        key = self.key(sid)
        if key is None:
            return None
        raw = self._store.get(key)
        if not isinstance(raw, str):
            return None
        s = SsoSession(**json.loads(raw))
        now = int(time.time())
        if now - s.created >= self.absolute or now - s.last_seen >= self.idle:
            self.end(sid)
            return None
        if now - s.last_seen >= 60:
            s.last_seen = now
            self._save(s, now)
        return s

    def update(self, s: SsoSession) -> None:
        self._save(s, int(time.time()))

    def complete_step(self, s: SsoSession, step: str, amr: str | None = None,
                      acr: str | None = None) -> None:
        """Mark a pending step done (second factor, password change) and note its method."""
        if step in s.pending:
            s.pending.remove(step)
        if amr and amr not in s.amr:
            s.amr.append(amr)
        if acr:
            s.acr = acr
        self.update(s)

    def add_client(self, sid: str, client_id: str, writes: Batch | None = None) -> None:
        """Remember that ``client_id`` holds tokens from this session (with ``writes``:
        queued with the caller's other Store writes)."""
        target = self._store if writes is None else writes
        target.sadd(f"sso-clients:{sid}", client_id, self.absolute)

    def clients(self, sid: str) -> set[str]:
        return self._store.smembers(f"sso-clients:{sid}")

    def end(self, sid: str) -> tuple[SsoSession | None, set[str]]:
        """End one session; return it and the clients to notify."""
        data = get_json(self._store, f"sso:{sid}")
        clients = self.clients(sid)
        self._store.delete(f"sso:{sid}", f"sso-clients:{sid}")
        return (SsoSession(**data) if data else None), clients

    def sessions_of(self, person_id: int) -> set[str]:
        return self._store.smembers(f"sso-person:{person_id}")

    def end_all(self, person_id: int) -> list[tuple[SsoSession | None, set[str], str]]:
        """End every session of a person (ban, password reset); return what was ended."""
        ended = []
        for sid in self.sessions_of(person_id):
            s, clients = self.end(sid)
            ended.append((s, clients, sid))
        self._store.delete(f"sso-person:{person_id}")
        return ended
