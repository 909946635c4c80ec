"""Store port: ephemeral state with expiry (DESIGN.md, "Fixed choices").

Authorization codes, login transactions, SMS codes, rate-limit counters, revocation lists,
QR tickets and SSO sessions live here and nowhere else, so any request can land on any
process. `RedisStore` is the production implementation; `MemoryStore` is the embedded
default for a single process (demo, unit tests).
"""

from __future__ import annotations

import json
import os
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import redis
from redis.connection import parse_url

from idp.store_watch import Watch

# A queued write of a `Batch`: ("set", key, value, ttl) | ("delete", *keys)
# | ("sadd", key, member, ttl).
Write = tuple[Any, ...]
# The channel of `RedisStore.announce` (after the store's prefix), and the subscriber's
# options: short timeouts (it is made and read under the watch's lock, which request threads
# wait on) and RESP2 whatever the URL asks (store_watch.py reads pub/sub replies as arrays).
WATCH_CHANNEL = "watched"
WATCH_TIMEOUTS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5,
                  "socket_keepalive": True, "protocol": 2}


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

    def watched_get(self, key: str) -> str | None:
        """`get` of a key written only by `announce` and `announce_add`, which a process
        may answer from memory while the backend proves it unchanged (store_watch.py)."""

    def watched_mget(self, *keys: str) -> list[str | None]:
        """`mget` of such keys: what memory cannot answer is read in one round trip."""

    def announce(self, key: str, value: str, ttl: int) -> None:
        """`set` a watched key and tell every process so."""

    def announce_add(self, key: str, value: str, ttl: int) -> bool:
        """`add` a watched key and tell every process so (whether or not it was added)."""


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

    # One process: nothing to watch.
    watched_get = get
    watched_mget = mget
    announce = set
    announce_add = add


class RedisStore:
    """Redis-backed store shared by every process of a node.

    Commands go straight over redis-py's `Connection`, one per thread, skipping the
    `redis.Redis` client, its pool, liveness check, retry wrapper, response callbacks and
    observability hooks (issue 2; bench/README.md, round 6): a GET cost 139 Python calls
    and 142 k instructions through the client, 39 calls and 41 k instructions here; the
    hot paths make 1-2 commands per request, the password flow 11, against CPU targets
    of 400-600 µs. What redis-py still does: URL parsing (redis://, rediss://, unix://,
    credentials, db, timeouts), the connect handshake (AUTH, CLIENT SETINFO, SELECT;
    RESP2), command packing, the hiredis reply parser and its error classes, so callers
    see the same `redis.RedisError` types as before.

    - One connection per thread (`threading.local`): granian's blocking threads share
      the store without any lock on the hot path. When a thread ends its slot is
      dropped and the `Connection` freed at once (no reference cycle), and redis-py's
      `__del__` closes the socket.
    - After a fork (gunicorn, granian workers) the inherited socket is the parent's:
      a connection made by another pid is discarded unused — no QUIT, no shutdown, its
      file descriptor closed in this process only — and a new one is made.
    - A broken connection (killed, idle-closed, Redis restarted) is made again and the
      commands sent once more, where the client's pool checked each connection before
      use; a second failure is raised, and so is a timeout (never retried, as before).
    """

    def __init__(self, url: str, prefix: str = "idp:") -> None:
        options = parse_url(url)
        self._connection_class = options.pop("connection_class", redis.Connection)
        # Query-string options win over these defaults, as with `Redis.from_url`.
        self._connection_kwargs = {"socket_timeout": 5, "socket_connect_timeout": 5,
                                   "protocol": 2, **options, "decode_responses": True}
        self._local = threading.local()
        self._prefix = prefix
        self._watch = Watch(lambda: self._connection_class(**{
            **self._connection_kwargs, **WATCH_TIMEOUTS}), prefix + WATCH_CHANNEL, self.mget)

    def _k(self, key: str) -> str:
        return self._prefix + key

    def _connection(self) -> redis.Connection:
        """This thread's connection, made on first use and again in a forked child."""
        conn: redis.Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.pid != os.getpid():
            # The parent's connection, if any, is dropped here: redis-py's disconnect
            # does not shut down a socket made by another pid, it only closes our copy.
            conn = self._local.conn = self._connection_class(**self._connection_kwargs)
        return conn

    def _execute(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Send the commands in one write and read their replies in order: one round
        trip. Every reply is read before an error reply is raised (the first one), so
        the connection stays in step.

        A connection the server has closed (killed, idle timeout, restart) is found
        before sending (`_closed_by_server`) and made again. Only a failed *send* is
        tried once more: once the commands are written the server may have run them, and
        running a SET … XX GET or an INCR twice would read as a reused code or count a
        failure twice (review of a98867a) — a lost reply is raised instead."""
        conn = self._connection()
        if _closed_by_server(conn):
            conn.disconnect()  # the next send connects afresh
        try:
            _send(conn, commands)
        except redis.ConnectionError:
            conn.disconnect()
            _send(conn, commands)
        return _read(conn, commands)

    def _transaction(self, *commands: tuple[Any, ...]) -> list[Any]:
        """MULTI … EXEC in one round trip: no other client sees some of the commands'
        effects without the others (nor a counter without its expiry). Returns EXEC's
        replies; an error among them, or an aborted EXEC, is raised."""
        results = self._execute(("MULTI",), *commands, ("EXEC",))[-1]
        if results is None:
            raise redis.exceptions.ExecAbortError("transaction aborted")
        for result in results:
            if isinstance(result, Exception):  # hiredis returns errors inside arrays
                raise result
        return results  # type: ignore[no-any-return]

    def get(self, key: str) -> str | None:
        return self._execute(("GET", self._k(key)))[0]  # type: ignore[no-any-return]

    def mget(self, *keys: str) -> list[str | None]:
        if not keys:
            return []
        # MGET answers nil for a key holding a set: no WRONGTYPE, like `get` reading absent.
        return self._execute(("MGET", *(self._k(k) for k in keys)))[0]  # type: ignore[no-any-return]

    def set(self, key: str, value: str, ttl: int) -> None:
        self._execute(("SET", self._k(key), value, "EX", max(1, ttl)))

    def add(self, key: str, value: str, ttl: int) -> bool:
        stored = self._execute(("SET", self._k(key), value, "EX", max(1, ttl), "NX"))[0]
        return bool(stored == "OK")

    def pop(self, key: str) -> str | None:
        return self._execute(("GETDEL", self._k(key)))[0]  # type: ignore[no-any-return]

    def replace(self, key: str, value: str, ttl: int) -> str | None:
        # SET … XX GET (Redis ≥ 6.2, like GETDEL): one atomic command.
        return self._execute(  # type: ignore[no-any-return]
            ("SET", self._k(key), value, "EX", max(1, ttl), "XX", "GET"))[0]

    def write(self, writes: list[Write]) -> None:
        commands: list[tuple[Any, ...]] = []
        for op, key, *args in writes:
            if op == "set":
                commands.append(("SET", self._k(key), args[0], "EX", max(1, args[1])))
            elif op == "delete":
                commands.append(("DEL", *(self._k(k) for k in (key, *args))))
            else:
                commands.append(("SADD", self._k(key), args[0]))
                commands.append(("EXPIRE", self._k(key), max(1, args[1])))
        self._transaction(*commands)

    def delete(self, *keys: str) -> None:
        if keys:
            self._execute(("DEL", *(self._k(k) for k in keys)))

    def incr(self, key: str, ttl: int) -> int:
        count, _ = self._transaction(("INCR", self._k(key)),
                                     ("EXPIRE", self._k(key), max(1, ttl), "NX"))
        return int(count)

    def ttl(self, key: str) -> int:
        return max(0, int(self._execute(("TTL", self._k(key)))[0]))

    def sadd(self, key: str, member: str, ttl: int) -> None:
        self._transaction(("SADD", self._k(key), member), ("EXPIRE", self._k(key), max(1, ttl)))

    def smembers(self, key: str) -> set[str]:
        return set(self._execute(("SMEMBERS", self._k(key)))[0])

    def ping(self) -> bool:
        try:
            return bool(self._execute(("PING",))[0] == "PONG")
        except redis.RedisError:
            return False

    def watched_get(self, key: str) -> str | None:
        return self._watch.get(key)

    def watched_mget(self, *keys: str) -> list[str | None]:
        return self._watch.get_many(keys) if keys else []

    def announce(self, key: str, value: str, ttl: int) -> None:
        self._announced(("SET", self._k(key), value, "EX", max(1, ttl)), key)

    def announce_add(self, key: str, value: str, ttl: int) -> bool:
        return bool(self._announced(
            ("SET", self._k(key), value, "EX", max(1, ttl), "NX"), key) == "OK")

    def _announced(self, write: tuple[Any, ...], key: str) -> Any:
        """``write``'s reply, the write announced in the same round trip. Not one
        transaction: a PUBLISH refused (an ACL without channel rights) must not take the
        write with it; its error is still raised."""
        try:
            return self._execute(write, ("PUBLISH", self._prefix + WATCH_CHANNEL, key))[0]
        finally:
            self._watch.forget(key)

    def flush_prefix(self) -> None:
        """Delete every key of this store's prefix (tests, bench)."""
        cursor = "0"
        while True:
            cursor, keys = self._execute(
                ("SCAN", cursor, "MATCH", self._prefix + "*", "COUNT", 1000))[0]
            if keys:
                self._execute(("DEL", *keys))
            if cursor == "0":
                return


def _closed_by_server(conn: redis.Connection) -> bool:
    """Whether an idle connection has something to read before we sent anything: the
    server's end of file (it closed the connection) or stray data — either way unusable.
    One ``poll`` with no wait (≈ 0.5 µs; a recv would wait out the socket's timeout)."""
    sock = conn._sock
    if sock is None:
        return False
    watched = getattr(conn, "_idp_poll", None)
    if watched is None or watched[0] is not sock:  # a new socket since: watch that one
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        watched = conn._idp_poll = (sock, poller)  # type: ignore[attr-defined]
    return bool(watched[1].poll(0))


def _send(conn: redis.Connection, commands: tuple[tuple[Any, ...], ...]) -> None:
    if len(commands) == 1:
        conn.send_command(*commands[0], check_health=False)
    else:
        conn.send_packed_command(conn.pack_commands(commands), check_health=False)


def _read(conn: redis.Connection, commands: tuple[tuple[Any, ...], ...]) -> list[Any]:
    """The replies to ``commands``, in order; the first error reply raised after all."""
    replies: list[Any] = []
    error: redis.ResponseError | None = None
    for _ in commands:
        try:
            replies.append(conn.read_response())
        except redis.ResponseError as exc:  # an error reply: the next replies still follow
            error = error or exc
            replies.append(exc)
    if error is not None:
        raise error
    return replies


def make_store(redis_url: str, prefix: str = "idp:") -> Store:
    """Choose the implementation from the settings: Redis when a URL is given."""
    return RedisStore(redis_url, prefix) if redis_url else MemoryStore()
