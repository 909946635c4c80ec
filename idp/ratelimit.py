"""Rate limits and lockouts on guessable secrets and costly sends (R-70).

A limit is a named counter in the Store over a fixed window. `hit` counts an attempt and
says whether it is still within the limit; `resets_in` tells the user when to try again.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.store import Store


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    window: int  # seconds


class RateLimiter:
    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def _key(limit: Limit, subject: str) -> str:
        return f"rl:{limit.name}:{subject}"

    def hit(self, limit: Limit, subject: str) -> bool:
        """Count one attempt; False when this attempt exceeds the limit."""
        return self._store.incr(self._key(limit, subject), limit.window) <= limit.count

    def test(self, limit: Limit, subject: str) -> bool:
        """True while another attempt would still be allowed, without counting one."""
        raw = self._store.get(self._key(limit, subject))
        return raw is None or int(raw) < limit.count

    def counts(self, *checks: tuple[Limit, str]) -> list[int]:
        """Attempts counted for several (limit, subject) pairs, in one Store round trip."""
        raws = self._store.mget(*(self._key(limit, subject) for limit, subject in checks))
        return [int(raw) if raw is not None else 0 for raw in raws]

    def attempts(self, limit: Limit, subject: str) -> int:
        """Attempts counted in the current window (0 when none)."""
        raw = self._store.get(self._key(limit, subject))
        return int(raw) if raw is not None else 0

    def clear(self, limit: Limit, subject: str) -> None:
        self._store.delete(self._key(limit, subject))

    def resets_in(self, limit: Limit, subject: str) -> int:
        return self._store.ttl(self._key(limit, subject))
