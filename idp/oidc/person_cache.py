"""Per-process copies of the persons userinfo and introspection read (issue 2 "Performance").

Both endpoints need, on every request, the token's person: active, with the
``security_epoch`` the token was issued under, and for userinfo the claim columns,
decrypted. Reading that row was most of their cost (bench/README.md, rounds 1-4). Each
process therefore keeps a `PersonSnapshot` per person, tagged with the versions
(`idp.accounts.versions`) it was read under, and uses it only while those versions are the
current ones — read by `AccessTokenVerifier.verify` with the revocation list
(``with_person_version``; watched keys, `idp.store_watch`). Every committed ban, unban,
closure, epoch bump (password reset) and claim change replaces and announces the person's
version after the commit, so it takes effect on the very next request in every process (an
announcement late in transit: within `store_watch.TRUST_SECONDS`).

A version missing from the Store means "read the database" (`versions.ensure` creates a
fresh one *before* the row is read, so a concurrent commit cannot hide behind it). `MAX_AGE`
bounds a copy's life should a writer's version update itself have failed. The copies are
kept only where every writer moves the same versions: with Redis, or when the operator says
so (``IDP_PERSON_CACHE``, settings.py); with the in-process store an ``idp`` command or a
second server changes the database without touching this process's versions, so every
request reads the row as before.

Personal data is held no longer than needed (DESIGN.md "Personal data"): the name and phone
number are kept decrypted with the copy (decrypted on first use, never written anywhere),
the document number is not — it is decrypted on each request that needs it (the masked form
of ``realname``, the audited ``idcard``); a copy found stale (another version, or older than
`MAX_AGE`) is dropped at once, not left until it is replaced.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from idp.accounts import versions
from idp.accounts.models import AccountStatus, Person
from idp.crypto import DataProtector
from idp.oidc.tokens import VerifiedAccessToken
from idp.platform import Platform
from idp.store import MemoryStore, Store

MAX_AGE = 60.0  # seconds; only a net for a lost version update, never the freshness rule
MAX_ENTRIES = 8192  # ≈ 1 KiB each; least recently used go first

_ACTIVE = AccountStatus.ACTIVE.value
_TABLE = Person.__table__  # type: ignore[attr-defined]
COLUMNS = ("id", "sub", "id_type", "id_number_enc", "name_enc", "phone_enc", "status",
            "realname_level", "security_epoch")
_SELECT = select(*(_TABLE.c[name] for name in COLUMNS)).where(
    _TABLE.c.id == bindparam("person_id"))


@dataclass(slots=True, eq=False)
class PersonSnapshot:
    """What userinfo and introspection read of a person (no password hash, no timestamps);
    shared read-only by the threads of the process."""

    id: int
    sub: str
    id_type: str
    id_number_enc: str
    name_enc: str
    phone_enc: str | None
    status: str
    realname_level: int
    security_epoch: int
    plain: dict[str, str | None] = field(default_factory=dict)  # name, phone: on first use

    @property
    def is_active(self) -> bool:
        return self.status == _ACTIVE


class Decrypted:
    """The decrypting reads of `Accounts` that `idp.oidc.claims` uses: name and phone
    remembered in the snapshot (decrypted once per copy), the document number decrypted on
    every call — never kept in clear (a few microseconds)."""

    def __init__(self, protector: DataProtector) -> None:
        self._protector = protector

    def _plain(self, person: PersonSnapshot, attr: str, context: str) -> str | None:
        if attr not in person.plain:
            enc = getattr(person, attr)
            person.plain[attr] = None if enc is None else self._protector.decrypt(enc, context)
        return person.plain[attr]

    def id_number(self, person: PersonSnapshot) -> str:
        return self._protector.decrypt(person.id_number_enc, "person.id_number")

    def name(self, person: PersonSnapshot) -> str:
        return self._plain(person, "name_enc", "person.name") or ""

    def phone(self, person: PersonSnapshot) -> str | None:
        return self._plain(person, "phone_enc", "person.phone")


def load(session: Session, person_id: int) -> PersonSnapshot | None:
    """One primary-key select through Core (no identity map, no unit of work)."""
    row = session.execute(_SELECT, {"person_id": person_id}).first()
    return None if row is None else PersonSnapshot(*row)


class PersonCache:
    def __init__(self, store: Store, protector: DataProtector, enabled: bool = True) -> None:
        self._store = store
        self.enabled = enabled
        self.decrypted = Decrypted(protector)
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, tuple[tuple[str, ...], float, PersonSnapshot]] = \
            OrderedDict()

    def get(self, person_id: int, seen: list[str | None] | None,
            session: Callable[[], Session]) -> PersonSnapshot | None:
        """The person, from memory while ``seen`` (the values of `versions.keys`, read with
        the revocation list) are the versions the copy was read under; else from
        ``session()``. None when the person no longer exists."""
        if not self.enabled:
            return load(session(), person_id)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(person_id)
            if hit is not None:
                if _fresh(hit, seen, now):
                    self._entries.move_to_end(person_id)
                    return hit[2]
                # Stale: its decrypted data goes now, whatever the read below brings.
                del self._entries[person_id]
        # The versions first, then the row: a change committed in between is stored under
        # the old version and read again next time (versions.py).
        tagged = None if seen is None else versions.ensure(
            self._store, versions.keys(person_id), seen)
        snapshot = load(session(), person_id)
        if snapshot is not None and tagged is not None:
            with self._lock:
                self._entries[person_id] = (tagged, now, snapshot)
                self._entries.move_to_end(person_id)
                while len(self._entries) > MAX_ENTRIES:
                    self._entries.popitem(last=False)
        return snapshot

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _fresh(entry: tuple[tuple[str, ...], float, PersonSnapshot], seen: list[str | None] | None,
           now: float) -> bool:
    """A copy read under ``seen`` (all present: a missing version means the database),
    younger than `MAX_AGE`."""
    return (seen is not None and None not in seen and entry[0] == tuple(seen)
            and now - entry[1] < MAX_AGE)


def of(platform: Platform) -> PersonCache:
    """The process's cache for ``platform`` (one per node, like the client cache)."""
    found = platform.services.get("oidc.persons")
    if found is None:
        mode = platform.settings.person_cache
        enabled = mode == "on" or (mode == "auto" and not isinstance(platform.store, MemoryStore))
        found = platform.services.setdefault(
            "oidc.persons", PersonCache(platform.store, platform.protector, enabled))
    return found  # type: ignore[return-value]


def live(cache: PersonCache, verified: VerifiedAccessToken, session: Callable[[], Session]
         ) -> PersonSnapshot | None:
    """The token's person if still active with the epoch the token was issued under
    (tokens.py ``ctx``): a ban, closure or password reset refuses the token at once."""
    if verified.person_id is None:
        return None
    person = cache.get(verified.person_id, verified.person_versions, session)
    if person is None or not person.is_active or person.security_epoch != verified.epoch:
        return None
    return person
