"""In-memory state of one simulator process: modes, nonces, SMS inbox, OIDC codes.

The simulator is one threaded process, so a lock per structure is enough; nothing here is
meant to survive a restart.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

AUTHORITIES = ("population_registry", "carrier", "bank", "social_security", "provident_fund",
               "driving_licence", "face", "trusted_platform", "sms", "business_registry")
MODES = ("ok", "slow", "down")


class Modes:
    """Per-authority failure switch flipped by tests through ``POST /_sim/mode``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._modes = dict.fromkeys(AUTHORITIES, "ok")

    def set(self, authority: str, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        names = AUTHORITIES if authority == "all" else (authority,)
        if any(n not in AUTHORITIES for n in names):
            raise ValueError(f"unknown authority {authority!r}")
        with self._lock:
            for name in names:
                self._modes[name] = mode

    def get(self, authority: str) -> str:
        with self._lock:
            return self._modes[authority]

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self._modes)


class NonceCache:
    """Nonces seen within the replay window; expired ones are pruned on every insert."""

    def __init__(self, ttl: float, max_entries: int = 200_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._next_prune = 0.0

    def add(self, nonce: str, now: float | None = None) -> bool:
        """Remember ``nonce``; False if it was already seen (a replay) or the cache is full."""
        now = time.time() if now is None else now
        with self._lock:
            if now >= self._next_prune:  # at most once a second, so inserts stay cheap
                self._seen = {n: exp for n, exp in self._seen.items() if exp > now}
                self._next_prune = now + 1
            expiry = self._seen.get(nonce)
            if expiry is not None and expiry > now:
                return False
            if len(self._seen) >= self._max:
                return False
            self._seen[nonce] = now + self._ttl
            return True


@dataclass
class SmsInbox:
    """Messages accepted by the simulated SMS gateway, newest first."""

    keep: int = 500
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _messages: list[dict[str, Any]] = field(default_factory=list)

    def add(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._messages = ([message] + self._messages)[: self.keep]

    def for_phone(self, phone: str | None) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self._messages if phone is None or m["phone"] == phone]

    def clear(self) -> None:
        with self._lock:
            self._messages = []


class Expiring:
    """One-time values with a lifetime (authorization codes, access tokens)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, Any]] = {}

    def put(self, key: str, value: Any, ttl: float) -> None:
        with self._lock:
            self._items[key] = (time.time() + ttl, value)

    def get(self, key: str, *, consume: bool = False) -> Any:
        with self._lock:
            item = self._items.pop(key, None) if consume else self._items.get(key)
        if item is None or item[0] < time.time():
            return None
        return item[1]
