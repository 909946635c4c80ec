"""Watched keys: values a process answers from memory while Redis says they are unchanged.

Some Store keys change rarely and are read on almost every request: the version of the
client registrations (oidc/client_cache.py, every client_credentials and refresh), and
what userinfo and introspection check a token against — its revocation entries
(oidc/revoked.py, nearly always absent) and its person's versions (accounts/versions.py).
Reading them was a whole round trip on requests that need no other, and a round trip costs
the worker far more than its own syscalls: the thread sleeps, and the request resumes on
cold caches (in process, client_credentials ≈ 95 µs of CPU without it against ≈ 390 µs
with it; userinfo ≈ 43 against 200–300; bench/README.md, rounds 8 and 9).

So every write of a watched key — its creation included — is *announced*
(`RedisStore.announce`, `announce_add`: the write, then PUBLISH, in one round trip), and
each process keeps one subscriber connection to the announcement channel. Before answering
a watched key from memory the process reads, without waiting, every announcement already
delivered to that connection. Redis queues an announcement for the subscribers while it
runs the PUBLISH, before the writer has its reply, and on a healthy network it reaches
them before the writer's caller can reach another process: a change is seen on the very
next request in every process, as when each request read the key (issue 4 item 7).
Because creations are announced too, an absent key (a token never revoked) is remembered
like a value.

What this trades for the round trip, bounded by `TRUST_SECONDS` (1 s): a change that is
not announced, or whose announcement is late, is seen once the value memory holds is that
old. That covers
- an announcement delayed in transit (a lost packet on the subscriber connection is
  resent after ≥ 200 ms; a subscriber backlogged by a burst of announcements);
- writes no announcement follows: expiry (harmless for every kind of watched key: a
  revocation entry outlives the token it names, and a version that expired did not change —
  whoever creates it again announces that), eviction or a flush of Redis, and a writer
  that predates announcing (a node of an older release during a rolling upgrade;
  docs/operations.md, "Serve").
For comparison, a resource server that validates our JWT access tokens itself never sees a
revocation before the token expires (10 minutes).

Never answered from memory, so read by one MGET:
- while the subscription is down (closed by the server, Redis restarted): it is made
  again on the next read, and after a failed attempt once per `RESUBSCRIBE_SECONDS`;
  everything known is forgotten whenever it is lost;
- a value older than `TRUST_SECONDS`, and anything while the subscription has not answered
  a PING for `LIVENESS_SECONDS` (a firewall dropping an idle connection without a reset;
  after an idle spell, until its PING is answered); a PING unanswered that long means the
  subscription is made again;
- a value read while an announcement arrived (`_generation` moved): the read may have
  raced the change.

What is known is bounded (`MAX_KNOWN`): revocation entries are per token.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import redis

TRUST_SECONDS = 1.0
# Entries remembered per process (≈ 260 bytes each, key included): beyond it, the oldest go
# while they are stale, and all of them if that frees nothing (a burst of distinct tokens).
MAX_KNOWN = 50_000
RESUBSCRIBE_SECONDS = 1.0
# The subscription is PINGed after this long without proof of life (while requests come),
# and given up (memory no longer trusted, made again) when a PING has gone unanswered for
# `LIVENESS_SECONDS`.
HEARTBEAT_SECONDS = 0.5
LIVENESS_SECONDS = 2.0


class Watch:
    """The watched keys of one process (one per `RedisStore`), shared by its threads."""

    def __init__(self, connect: Callable[[], redis.Connection], channel: str,
                 read: Callable[..., list[str | None]]) -> None:
        self._connect = connect
        self._channel = channel
        self._read = read
        self._lock = threading.Lock()
        self._conn: redis.Connection | None = None
        self._pid = 0
        # Oldest first: an entry read again is moved to the end (`_shrink` pops the front).
        self._known: OrderedDict[str, tuple[str | None, float]] = OrderedDict()
        self._generation = 0  # announcements applied (and subscriptions made)
        self._retry_at = 0.0
        self._alive_at = 0.0  # when the subscription last proved alive (SUBSCRIBE, PONG)
        self._ping_at: float | None = None  # when the PING now unanswered was sent

    def get(self, key: str) -> str | None:
        """The key's value: from memory when announcements prove it current, else read."""
        return self.get_many((key,))[0]

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        """The keys' values, in order: from memory what announcements prove current, the
        rest by one read (`read(*keys)`, an MGET)."""
        values: list[str | None] = [None] * len(keys)
        missing: list[int] = []
        with self._lock:
            now = time.monotonic()
            live = self._drain(now)
            for i, key in enumerate(keys):
                hit = self._known.get(key) if live else None
                if hit is not None and now - hit[1] < TRUST_SECONDS:
                    values[i] = hit[0]
                else:
                    missing.append(i)
            generation = self._generation
        if not missing:
            return values
        read = self._read(*(keys[i] for i in missing))
        for i, value in zip(missing, read, strict=True):
            values[i] = value
        with self._lock:
            if live and self._drain(time.monotonic()) and self._generation == generation:
                known = self._known
                for i in missing:
                    known[keys[i]] = (values[i], now)  # aged from before the read
                    known.move_to_end(keys[i])
                if len(known) > MAX_KNOWN:
                    self._shrink(now)
        return values

    def _shrink(self, now: float) -> None:
        known = self._known
        while known and now - next(iter(known.values()))[1] >= TRUST_SECONDS:
            known.popitem(last=False)
        if len(known) > MAX_KNOWN:
            known.clear()

    def forget(self, key: str) -> None:
        """This process changed the key: not answered from memory before it is read."""
        with self._lock:
            self._known.pop(key, None)
            self._generation += 1

    @property
    def subscribed(self) -> bool:
        """Whether the subscription is up (tests)."""
        with self._lock:
            return self._conn is not None and self._pid == os.getpid()

    def _drain(self, now: float) -> bool:
        """Apply the announcements already delivered; False while there is no working
        subscription, or none proved alive lately (then nothing is known)."""
        if self._conn is None or self._pid != os.getpid():
            if self._conn is None and now < self._retry_at:  # the last attempt failed
                return False
            try:
                self._subscribe(now)
            except (redis.RedisError, OSError):
                self._drop()
                self._retry_at = time.monotonic() + RESUBSCRIBE_SECONDS
                return False
        conn = self._conn
        try:
            # `can_read` sees what the reply parser already holds as well as the socket: one
            # recv may bring several announcements, and a poll alone would leave the rest.
            while conn.can_read(timeout=0):
                message = conn.read_response()
                if message[0] == "message":
                    self._known.pop(message[2], None)
                    self._generation += 1
                elif message[0] == "pong" and self._ping_at is not None:
                    self._alive_at, self._ping_at = self._ping_at, None
            if self._ping_at is None and now - self._alive_at >= HEARTBEAT_SECONDS:
                conn.send_command("PING", check_health=False)
                self._ping_at = now
        except (redis.RedisError, OSError):  # closed by the server, Redis restarted
            self._drop()
            return False
        # No answer to a PING: silently gone, made again. A process that was merely idle
        # sends its PING on the next request and keeps the subscription once it is answered;
        # until then memory is not trusted (no proof of life for `LIVENESS_SECONDS`).
        if self._ping_at is not None and now - self._ping_at > LIVENESS_SECONDS:
            self._drop()
            return False
        return now - self._alive_at <= LIVENESS_SECONDS

    def _subscribe(self, now: float) -> None:
        # After a fork the parent's connection is dropped, not closed: it is the parent's
        # (redis-py closes only this process's descriptor of a socket another pid made).
        self._conn, self._pid = self._connect(), os.getpid()
        self._conn.send_command("SUBSCRIBE", self._channel, check_health=False)
        reply = self._conn.read_response()
        if reply[0] != "subscribe":
            raise redis.ConnectionError(f"unexpected reply to SUBSCRIBE: {reply[0]!r}")
        self._known.clear()  # anything announced while unsubscribed was missed
        self._generation += 1
        self._alive_at, self._ping_at = now, None

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._known.clear()
        self._generation += 1
        if conn is not None and conn.pid == os.getpid():
            conn.disconnect()
