"""Staff sessions in the Store: console cookies and API bearer tokens (issue 5 item 1).

A staff session is apart from citizens' SSO (`idp.accounts.sessions`): its own cookie
(``idp_staff``), its own keys, and shorter limits — 15 minutes idle and 8 hours at most for
the console (an office PC left unlocked), and a shorter absolute lifetime for API tokens
(``staff_api_token_lifetime``). The browser or counter system holds a random token; the
Store keeps it only as a keyed digest, so a Store dump yields no usable token.

A session is *pending* until the second factor is done (``pending`` lists ``totp_enrol``
or ``totp``); a pending session authorises nothing but that step.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from idp.crypto import keyed_digest, random_token
from idp.staff.directory import Role, StaffIdentity
from idp.store import Store, get_json, set_json

COOKIE_NAME = "idp_staff"
MAX_TOKEN = 96
TOUCH_EVERY = 30  # seconds; refreshing the idle timer on every request would write each time


@dataclass
class StaffSession:
    """Who is signed in to the console, as the directory said at sign-in (or last recheck)."""

    member_id: int
    username: str
    display_name: str
    department: str
    roles: list[str]
    source: str
    kind: str  # "console" | "api"
    created: int
    last_seen: int
    checked: int  # last time the directory confirmed the account
    pending: list[str] = field(default_factory=list)
    started_ms: int = 0  # for `StaffSessions.end_member` (a second-exact ``created`` is too coarse)
    key: str = ""  # the Store key (digest of the token); not the token

    @property
    def complete(self) -> bool:
        return not self.pending

    @property
    def actor(self) -> str:
        """The audit ``actor`` of everything done in this session."""
        return f"staff:{self.username}"[:128]

    @property
    def role_set(self) -> frozenset[Role]:
        known = {r.value for r in Role}
        return frozenset(Role(r) for r in self.roles if r in known)


class StaffSessions:
    """Start, load, update and end staff sessions."""

    def __init__(self, store: Store, secret_key: str, *, idle: int, absolute: int,
                 api_absolute: int) -> None:
        self._store = store
        self._secret = secret_key
        self.idle = idle
        self.absolute = absolute
        self.api_absolute = api_absolute

    def _key(self, token: str) -> str:
        return "staff-sess:" + keyed_digest(self._secret, "staff-session\x00" + token)

    def _lifetime(self, s: StaffSession) -> int:
        return self.api_absolute if s.kind == "api" else self.absolute

    def _save(self, s: StaffSession, now: int) -> None:
        ttl = max(1, min(self.idle, s.created + self._lifetime(s) - now))
        set_json(self._store, s.key, {k: v for k, v in asdict(s).items() if k != "key"}, ttl)

    def start(self, member_id: int, identity: StaffIdentity, *, kind: str,
              pending: list[str] | None = None) -> tuple[str, StaffSession]:
        """A new session (a fresh token at every sign-in); returns the token to hand out."""
        now = int(time.time())
        token = random_token(32)
        s = StaffSession(member_id=member_id, username=identity.username,
                         display_name=identity.display_name, department=identity.department,
                         roles=sorted(r.value for r in identity.roles),
                         source=identity.source.value, kind=kind, created=now, last_seen=now,
                         checked=now, pending=list(pending or []),
                         started_ms=int(time.time() * 1000), key=self._key(token))
        self._save(s, now)
        return token, s

    def load(self, token: str | None, *, kind: str) -> StaffSession | None:
        """The live session of ``token`` and ``kind``, its idle timer refreshed; else None."""
        if not token or len(token) > MAX_TOKEN:
            return None
        key = self._key(token)
        data = get_json(self._store, key)
        if data is None or data.get("kind") != kind:
            return None
        s = StaffSession(**data, key=key)
        now = int(time.time())
        if now - s.created >= self._lifetime(s) or now - s.last_seen >= self.idle \
                or self._cut_off(s):
            self._store.delete(key)
            return None
        if now - s.last_seen >= TOUCH_EVERY:
            s.last_seen = now
            self._save(s, now)
        return s

    def update(self, s: StaffSession) -> None:
        self._save(s, int(time.time()))

    def end(self, s: StaffSession) -> None:
        self._store.delete(s.key)

    # Sessions are found by token digest only; ending all of one member's sessions is a
    # per-member cut-off time that `load` checks, kept as long as any session may live.
    @staticmethod
    def _cut_key(member_id: int) -> str:
        return f"staff-cut:{member_id}"

    def end_member(self, member_id: int) -> None:
        """Every session of ``member_id`` started until now stops working (authenticator reset)."""
        self._store.set(self._cut_key(member_id), str(int(time.time() * 1000)),
                        max(self.absolute, self.api_absolute))

    def _cut_off(self, s: StaffSession) -> bool:
        cut = self._store.get(self._cut_key(s.member_id))
        return cut is not None and s.started_ms <= int(cut)
