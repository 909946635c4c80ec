"""Store port: ephemeral state with expiry (DESIGN.md, "Fixed choices").

Authorization codes, login transactions, SMS codes, rate-limit counters, revocation lists,
QR tickets and SSO sessions live here and nowhere else, so any request can land on any
process. `RedisStore` is the production implementation; `MemoryStore` is the embedded
default for a single process (demo, unit tests).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import redis

# A queued write of a `Batch`: ("set", key, value, ttl) | ("delete", *keys)
# | ("sadd", key, member, ttl).
Write = tuple[Any, ...]


class Store(Protocol):
    """Key/value and set operations with per-key expiry in seconds."""

    def get(self, key: str) -> str | None:
        """Return the value, or None if absent or expired."""

    def mget(self, *keys: str) -> list[str | None]:
        """`get` of several keys in one round trip, in order."""

    def set(self, key: str, value: str, ttl: int) -> None:
        """Store a value that expires after ``ttl`` seconds."""

    def add(self, key: str, value: str, ttl: int) -> bool:
        """Store only if absent; True if stored (a lock or a single-use marker)."""

    def pop(self, key: str) -> str | None:
        """Atomically read and delete: whoever pops first wins (single-use codes)."""

    def replace(self, key: str, value: str, ttl: int) -> str | None:
        """Atomically overwrite an existing key (value and expiry) and return what it held.

        None, and nothing stored, when the key is absent: whoever replaces a value first
        is the only one to get it (single-use codes that leave a used-marker behind).
        """

    def write(self, writes: list[Write]) -> None:
        """Apply queued writes (`Batch`) in one round trip; no other client sees some of
        them without the others. Not a rollback: should one command fail (Redis answers
        an error for it inside MULTI/EXEC), the others still apply."""

    def delete(self, *keys: str) -> None:
        """Remove keys; absent keys are ignored."""

    def incr(self, key: str, ttl: int) -> int:
        """Add one; the window of ``ttl`` seconds starts at the first increment."""

    def ttl(self, key: str) -> int:
        """Seconds until the key expires; 0 when absent."""

    def sadd(self, key: str, member: str, ttl: int) -> None:
        """Add to a set and (re)start its expiry."""

    def smembers(self, key: str) -> set[str]:
        """Members of a set (empty when absent)."""

    def ping(self) -> bool:
        """True when the backend answers."""


class Batch:
    """Writes collected during a request and sent together (`batch`): one round trip
    instead of one per write, for writes whose order against other requests does not
    matter until the response leaves (the caller flushes before answering)."""

    def __init__(self) -> None:
        self.writes: list[Write] = []

    def set(self, key: str, value: str, ttl: int) -> None:
        self.writes.append(("set", key, value, ttl))

    def set_json(self, key: str, value: Any, ttl: int) -> None:
        self.set(key, json.dumps(value, separators=(",", ":")), ttl)

    def delete(self, *keys: str) -> None:
        if keys:
            self.writes.append(("delete", *keys))

    def sadd(self, key: str, member: str, ttl: int) -> None:
        self.writes.append(("sadd", key, member, ttl))


@contextmanager
def batch(store: Store) -> Iterator[Batch]:
    """Collect writes and apply them in one round trip when the block ends without error."""
    queued = Batch()
    yield queued
    if queued.writes:
        store.write(queued.writes)


def get_json(store: Store, key: str) -> Any:
    raw = store.get(key)
    return None if raw is None else json.loads(raw)


def set_json(store: Store, key: str, value: Any, ttl: int) -> None:
    store.set(key, json.dumps(value, separators=(",", ":")), ttl)


def pop_json(store: Store, key: str) -> Any:
    raw = store.pop(key)
    return None if raw is None else json.loads(raw)


class MemoryStore:
    """In-process store for one process; thread-safe, lazily expiring."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[Any, float]] = {}
        self._lock = threading.Lock()
        self._ops = 0

    def _live(self, key: str) -> Any:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            del self._data[key]
            return None
        return item[0]

    def _sweep(self) -> None:
        self._ops += 1
        if self._ops % 1000:
            return
        now = time.monotonic()
        for key in [k for k, (_, exp) in self._data.items() if exp <= now]:
            del self._data[key]

    def get(self, key: str) -> str | None:
        with self._lock:
            value = self._live(key)
            return value if isinstance(value, str) else None

    def mget(self, *keys: str) -> list[str | None]:
        with self._lock:
            values = [self._live(key) for key in keys]
        return [v if isinstance(v, str) else None for v in values]

    def set(self, key: str, value: str, ttl: int) -> None:
        with self._lock:
            self._sweep()
            self._data[key] = (value, time.monotonic() + ttl)

    def replace(self, key: str, value: str, ttl: int) -> str | None:
        with self._lock:
            old = self._live(key)
            if old is None:
                return None
            self._data[key] = (value, time.monotonic() + ttl)
            return old if isinstance(old, str) else None

    def write(self, writes: list[Write]) -> None:
        with self._lock:  # all at once, like MULTI/EXEC
            self._sweep()
            for op, key, *args in writes:
                if op == "set":
                    self._data[key] = (args[0], time.monotonic() + args[1])
                elif op == "delete":
                    for k in (key, *args):
                        self._data.pop(k, None)
                else:
                    self._sadd(key, args[0], args[1])

    def add(self, key: str, value: str, ttl: int) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._data[key] = (value, time.monotonic() + ttl)
            return True

    def pop(self, key: str) -> str | None:
        with self._lock:
            value = self._live(key)
            self._data.pop(key, None)
            return value if isinstance(value, str) else None

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def incr(self, key: str, ttl: int) -> int:
        with self._lock:
            value = self._live(key)
            if value is None:
                self._data[key] = ("1", time.monotonic() + ttl)
                return 1
            count = int(value) + 1
            self._data[key] = (str(count), self._data[key][1])
            return count

    def ttl(self, key: str) -> int:
        with self._lock:
            if self._live(key) is None:
                return 0
            return max(1, int(self._data[key][1] - time.monotonic()))

    def sadd(self, key: str, member: str, ttl: int) -> None:
        with self._lock:
            self._sadd(key, member, ttl)

    def _sadd(self, key: str, member: str, ttl: int) -> None:
        members = self._live(key)
        members = set(members) if isinstance(members, set) else set()
        members.add(member)
        self._data[key] = (members, time.monotonic() + ttl)

    def smembers(self, key: str) -> set[str]:
        with self._lock:
            members = self._live(key)
            return set(members) if isinstance(members, set) else set()

    def ping(self) -> bool:
        return True


class RedisStore:
    """Redis-backed store shared by every process of a node."""

    def __init__(self, url: str, prefix: str = "idp:") -> None:
        self._redis = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5
        )
        self._prefix = prefix

    def _k(self, key: str) -> str:
        return self._prefix + key

    def get(self, key: str) -> str | None:
        return self._redis.get(self._k(key))  # type: ignore[return-value]

    def mget(self, *keys: str) -> list[str | None]:
        if not keys:
            return []
        return self._redis.mget([self._k(k) for k in keys])  # type: ignore[return-value]

    def set(self, key: str, value: str, ttl: int) -> None:
        self._redis.set(self._k(key), value, ex=max(1, ttl))

    def add(self, key: str, value: str, ttl: int) -> bool:
        return bool(self._redis.set(self._k(key), value, ex=max(1, ttl), nx=True))

    def pop(self, key: str) -> str | None:
        return self._redis.getdel(self._k(key))  # type: ignore[return-value]

    def replace(self, key: str, value: str, ttl: int) -> str | None:
        # SET … XX GET (Redis ≥ 6.2, like GETDEL): one atomic command.
        return self._redis.set(self._k(key), value, ex=max(1, ttl), xx=True,  # type: ignore[return-value]
                               get=True)

    def write(self, writes: list[Write]) -> None:
        pipe = self._redis.pipeline(transaction=True)  # MULTI/EXEC: all or none visible
        for op, key, *args in writes:
            if op == "set":
                pipe.set(self._k(key), args[0], ex=max(1, args[1]))
            elif op == "delete":
                pipe.delete(*(self._k(k) for k in (key, *args)))
            else:
                pipe.sadd(self._k(key), args[0])
                pipe.expire(self._k(key), max(1, args[1]))
        pipe.execute()

    def delete(self, *keys: str) -> None:
        if keys:
            self._redis.delete(*(self._k(k) for k in keys))

    def incr(self, key: str, ttl: int) -> int:
        pipe = self._redis.pipeline()
        pipe.incr(self._k(key))
        pipe.expire(self._k(key), max(1, ttl), nx=True)
        count, _ = pipe.execute()
        return int(count)

    def ttl(self, key: str) -> int:
        return max(0, int(self._redis.ttl(self._k(key))))  # type: ignore[arg-type]

    def sadd(self, key: str, member: str, ttl: int) -> None:
        pipe = self._redis.pipeline()
        pipe.sadd(self._k(key), member)
        pipe.expire(self._k(key), max(1, ttl))
        pipe.execute()

    def smembers(self, key: str) -> set[str]:
        return set(self._redis.smembers(self._k(key)))  # type: ignore[arg-type]

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def flush_prefix(self) -> None:
        """Delete every key of this store's prefix (tests)."""
        for key in self._redis.scan_iter(self._prefix + "*", count=1000):
            self._redis.delete(key)


def make_store(redis_url: str, prefix: str = "idp:") -> Store:
    """Choose the implementation from the settings: Redis when a URL is given."""
    return RedisStore(redis_url, prefix) if redis_url else MemoryStore()
