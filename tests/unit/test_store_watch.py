"""Watched keys (idp/store_watch.py): answered from memory only while announcements prove
them unchanged, and a change announced by one process seen on the very next read in every
other (issue 4 item 7, issue 2 performance)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from idp import store_watch
from idp.store import RedisStore


def test_a_watched_key_reads_what_announce_wrote(backend):
    """Both implementations: `announce` is a `set`, `announce_add` an `add`, `watched_get`
    a `get` and `watched_mget` an `mget` of them."""
    store = backend.store
    assert store.watched_get("version") is None
    assert store.watched_mget("version", "entry") == [None, None]
    store.announce("version", "v1", 60)
    assert store.watched_get("version") == "v1" == store.get("version")
    store.announce("version", "v2", 60)
    assert store.watched_get("version") == "v2"
    assert store.announce_add("entry", "e1", 60) is True
    assert store.announce_add("entry", "e2", 60) is False
    assert store.watched_mget("version", "entry") == ["v2", "e1"] == store.mget("version",
                                                                                "entry")
    assert store.watched_mget() == []


@pytest.fixture
def first(backend) -> RedisStore:  # type: ignore[no-untyped-def]
    assert isinstance(backend.store, RedisStore), "run with IDP_TEST_BACKEND=postgres"
    return backend.store


@pytest.fixture
def second(backend) -> Iterator[RedisStore]:  # type: ignore[no-untyped-def]
    """The same Store as another process sees it: its own connections and subscription."""
    other = RedisStore(backend.redis_url, prefix=backend.store._prefix)
    yield other
    other._watch._drop()


def trips(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The commands ``store`` sends from now on, one entry per round trip."""
    sent: list[tuple[Any, ...]] = []
    real = store._execute

    def counted(*commands: tuple[Any, ...]) -> list[Any]:
        sent.append(commands)
        return real(*commands)

    monkeypatch.setattr(store, "_execute", counted)
    return sent


def heartbeat(monkeypatch: pytest.MonkeyPatch, every: float, liveness: float) -> None:
    """PINGs every ``every`` s, given up after ``liveness`` s; values trusted for as long
    as the test needs (only the subscription's liveness decides)."""
    monkeypatch.setattr(store_watch, "HEARTBEAT_SECONDS", every)
    monkeypatch.setattr(store_watch, "LIVENESS_SECONDS", liveness)
    monkeypatch.setattr(store_watch, "TRUST_SECONDS", 60.0)


@pytest.mark.postgres
def test_a_watched_key_is_read_once_then_answered_from_memory(first, second, monkeypatch):
    first.announce("version", "v1", 60)
    sent = trips(second, monkeypatch)
    assert [second.watched_get("version") for _ in range(20)] == ["v1"] * 20
    assert len(sent) == 1 and sent[0][0][0] == "MGET"
    assert second._watch.subscribed


@pytest.mark.postgres
def test_an_announcement_is_seen_on_the_very_next_read_in_another_process(first, second):
    for n in range(50):  # no sleep anywhere: the announcement is already delivered
        first.announce("version", f"v{n}", 60)
        assert second.watched_get("version") == f"v{n}"
        assert second.watched_get("version") == f"v{n}"  # from memory, still right


@pytest.mark.postgres
def test_the_announcing_process_reads_its_own_change(first):
    first.announce("version", "v1", 60)
    assert first.watched_get("version") == "v1"
    first.announce("version", "v2", 60)
    assert first.watched_get("version") == "v2"


@pytest.mark.postgres
def test_a_plain_set_is_seen_once_the_value_is_older_than_the_trust(first, second,
                                                                    monkeypatch):
    """A writer that does not announce (an older node, a hand edit): bounded by
    TRUST_SECONDS, as is a subscription broken without a reset."""
    monkeypatch.setattr(store_watch, "TRUST_SECONDS", 0.2)
    first.announce("version", "v1", 60)
    assert second.watched_get("version") == "v1"
    first.set("version", "v2", 60)
    time.sleep(0.25)
    assert second.watched_get("version") == "v2"


@pytest.mark.postgres
@pytest.mark.parametrize("create", ["announce", "announce_add"])
def test_an_absent_key_is_remembered_until_its_creation_is_announced(first, second,
                                                                     monkeypatch, create):
    """Creations are announced too (a revocation entry: absent for nearly every token)."""
    sent = trips(second, monkeypatch)
    assert [second.watched_get("entry") for _ in range(5)] == [None] * 5
    assert len(sent) == 1
    getattr(first, create)("entry", "revoked", 60)
    assert second.watched_get("entry") == "revoked"
    assert len(sent) == 2


@pytest.mark.postgres
def test_several_keys_cost_one_read_for_what_memory_cannot_answer(first, second,
                                                                  monkeypatch):
    first.announce("a", "1", 60)
    assert second.watched_mget("a") == ["1"]
    sent = trips(second, monkeypatch)
    assert second.watched_mget("a", "b", "c") == ["1", None, None]
    assert sent == [(("MGET", second._k("b"), second._k("c")),)]
    assert second.watched_mget("c", "a", "b") == [None, "1", None]  # all from memory
    assert len(sent) == 1
    first.announce("b", "2", 60)
    assert second.watched_mget("a", "b", "c") == ["1", "2", None]
    assert sent[1:] == [(("MGET", second._k("b")),)]


@pytest.mark.postgres
def test_the_oldest_stale_entries_go_first(first, second, monkeypatch):
    monkeypatch.setattr(store_watch, "MAX_KNOWN", 6)
    monkeypatch.setattr(store_watch, "TRUST_SECONDS", 0.2)
    assert second.watched_mget("old1", "old2", "old3") == [None] * 3
    time.sleep(0.25)
    assert second.watched_mget("new1", "new2", "new3") == [None] * 3
    assert second.watched_mget("new4") == [None]  # one too many: the stale ones go
    assert list(second._watch._known) == ["new1", "new2", "new3", "new4"]


@pytest.mark.postgres
def test_what_is_known_stays_bounded(first, second, monkeypatch):
    monkeypatch.setattr(store_watch, "MAX_KNOWN", 10)
    for n in range(35):
        assert second.watched_mget(f"k{n}", f"j{n}") == [None, None]
        assert len(second._watch._known) <= 10
    first.announce("k34", "x", 60)
    assert second.watched_mget("k34") == ["x"]


@pytest.mark.postgres
def test_a_killed_subscription_is_read_around_then_made_again(first, second, backend,
                                                              monkeypatch):
    first.announce("version", "v1", 60)
    assert second.watched_get("version") == "v1"
    host, port = second._watch._conn._sock.getsockname()[:2]
    admin = redis.Redis.from_url(backend.redis_url)
    try:
        assert admin.client_kill_filter(_type="pubsub", addr=f"{host}:{port}") == 1
    finally:
        admin.close()
    first.set("version", "v2", 60)  # no subscriber of `second` hears this one
    sent = trips(second, monkeypatch)
    assert second.watched_get("version") == "v2"  # the lost subscription: read
    assert sent and not second._watch.subscribed
    assert second.watched_get("version") == "v2"
    assert second._watch.subscribed  # made again on the next read
    first.announce("version", "v3", 60)
    assert second.watched_get("version") == "v3"


@pytest.mark.postgres
def test_without_a_subscription_every_read_goes_to_redis(first, second, monkeypatch):
    def refuse() -> redis.Connection:
        raise redis.ConnectionError("subscriber refused")

    monkeypatch.setattr(second._watch, "_connect", refuse)
    first.announce("version", "v1", 60)
    sent = trips(second, monkeypatch)
    assert [second.watched_get("version") for _ in range(3)] == ["v1"] * 3
    assert len(sent) == 3 and not second._watch.subscribed
    attempts: list[float] = []

    def refuse_counted() -> redis.Connection:
        attempts.append(time.monotonic())
        return refuse()

    monkeypatch.setattr(second._watch, "_connect", refuse_counted)
    monkeypatch.setattr(second._watch, "_retry_at", 0.0)
    for _ in range(5):
        second.watched_get("version")
    assert len(attempts) == 1  # then one attempt per RESUBSCRIBE_SECONDS, not per read
    first.set("version", "v2", 60)
    assert second.watched_get("version") == "v2"


@pytest.mark.postgres
@pytest.mark.parametrize("before", ["v1", None], ids=["changed", "created"])
def test_a_read_that_raced_an_announcement_is_not_kept(first, second, monkeypatch, before):
    """Neither an old value nor an absence read just before the announcement."""
    if before is not None:
        first.announce("version", before, 60)
    watch = second._watch
    real_read = watch._read

    def read_then_changed(*keys: str) -> list[str | None]:
        values = real_read(*keys)  # the old value (or none), then the change lands
        first.announce(keys[0], "v2", 60)
        return values

    monkeypatch.setattr(watch, "_read", read_then_changed)
    assert second.watched_get("version") == before
    monkeypatch.setattr(watch, "_read", real_read)
    assert second.watched_get("version") == "v2"


@pytest.mark.postgres
def test_an_announcement_late_in_transit_is_bounded_by_the_trust(first, second, monkeypatch):
    """The price of answering from memory: an announcement not yet delivered (a packet
    resent, a backlog) hides the change until what memory holds is TRUST_SECONDS old."""
    monkeypatch.setattr(store_watch, "TRUST_SECONDS", 0.3)
    assert second.watched_get("entry") is None  # remembered: absent
    remembered_at = second._watch._known["entry"][1]
    conn = second._watch._conn
    monkeypatch.setattr(conn, "can_read", lambda timeout=0: False)  # nothing delivered yet
    first.announce("entry", "revoked", 60)
    while second.watched_get("entry") is None:
        assert time.monotonic() - remembered_at < 0.3  # only memory answers None
        time.sleep(0.01)
    assert time.monotonic() - remembered_at >= 0.3


@pytest.mark.postgres
def test_a_forked_child_subscribes_on_its_own(first, second, monkeypatch):
    assert second.watched_get("version") is None
    parents = second._watch._conn
    monkeypatch.setattr(second._watch, "_pid", -1)  # as if this process were the child
    first.announce("version", "v1", 60)
    assert second.watched_get("version") == "v1"
    assert second._watch._conn is not parents and second._watch.subscribed


@pytest.mark.postgres
def test_threads_reading_while_another_process_announces_never_go_back(first, second):
    """Each thread, once it has seen version n, never reads an older one."""
    first.announce("version", "0", 60)
    stop = threading.Event()
    regressions: list[tuple[int, int]] = []

    def reader() -> None:
        seen = 0
        while not stop.is_set():
            now = int(second.watched_get("version") or 0)
            if now < seen:
                regressions.append((seen, now))
            seen = max(seen, now)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for n in range(1, 200):
        first.announce("version", str(n), 60)
    stop.set()
    for thread in threads:
        thread.join(10)
    assert regressions == []
    assert second.watched_get("version") == "199"


@pytest.mark.postgres
def test_announcements_that_arrive_together_are_all_applied(first, second):
    """One recv can bring several announcements into the reply parser's buffer; each is
    applied, not only the first (the socket alone no longer shows the rest)."""
    for key in ("a", "b", "c"):
        first.announce(key, "1", 60)
        assert second.watched_get(key) == "1"
    for key in ("a", "b", "c"):  # delivered together, before `second` reads any
        first.announce(key, "2", 60)
    assert [second.watched_get(key) for key in ("a", "b", "c")] == ["2", "2", "2"]


@pytest.mark.postgres
def test_a_subscription_answering_pings_stays_trusted(first, second, monkeypatch):
    heartbeat(monkeypatch, 0.05, 0.4)
    first.announce("version", "v1", 60)
    assert second.watched_get("version") == "v1"
    sent = trips(second, monkeypatch)
    deadline = time.monotonic() + 1.2
    while time.monotonic() < deadline:  # three times LIVENESS_SECONDS, answered from memory
        assert second.watched_get("version") == "v1"
        time.sleep(0.005)
    assert sent == [] and second._watch.subscribed


@pytest.mark.postgres
def test_a_subscription_that_stops_answering_is_given_up_and_made_again(first, second,
                                                                         monkeypatch):
    """A connection dropped without a reset (a firewall's idle timeout) looks alive to the
    socket: the PING that goes unanswered is what tells."""
    heartbeat(monkeypatch, 0.02, 0.3)
    first.announce("version", "v1", 60)
    assert second.watched_get("version") == "v1"
    silent = second._watch._conn
    monkeypatch.setattr(silent, "send_command", lambda *a, **kw: None)  # PINGs vanish
    first.set("version", "v2", 60)  # a change this subscription will never tell
    time.sleep(0.35)
    sent = trips(second, monkeypatch)
    assert second.watched_get("version") == "v2"  # no proof of life lately: read
    assert sent and second._watch._conn is silent  # its PING is now out
    time.sleep(0.35)
    first.set("version", "v3", 60)
    assert second.watched_get("version") == "v3"
    assert second._watch._conn is not silent  # unanswered for LIVENESS_SECONDS: made again


@pytest.mark.postgres
def test_an_idle_spell_keeps_the_subscription(first, second, monkeypatch):
    """A process without requests sends no PING; its next request sends one, reads what
    it needs meanwhile, and the subscription stays once the PING is answered."""
    heartbeat(monkeypatch, 0.02, 0.5)
    first.announce("version", "v1", 60)
    assert second.watched_get("version") == "v1"
    conn = second._watch._conn
    time.sleep(0.6)  # idle: no request, no PING
    sent = trips(second, monkeypatch)
    assert second.watched_get("version") == "v1"
    assert len(sent) == 1  # read: no proof of life for LIVENESS_SECONDS
    assert conn.can_read(timeout=1.0)  # the PONG arrives (left for the next read to apply)
    assert [second.watched_get("version") for _ in range(5)] == ["v1"] * 5
    assert len(sent) == 1 and second._watch._conn is conn


@pytest.mark.postgres
def test_an_announcement_refused_publication_still_stores_the_value(backend, second):
    """An ACL without channel rights refuses PUBLISH: the SET stays, the error is raised."""
    admin = redis.Redis.from_url(backend.redis_url)
    user = f"nopub{time.monotonic_ns()}"
    admin.acl_setuser(user, enabled=True, passwords=["+pw"], keys=["*"],
                      commands=["+@all", "-publish"], channels=["*"])
    try:
        where = urlsplit(backend.redis_url)
        limited = RedisStore(f"redis://{user}:pw@{where.hostname}:{where.port}/0",
                             prefix=second._prefix)
        with pytest.raises(redis.exceptions.NoPermissionError):
            limited.announce("version", "v9", 60)
        assert second.get("version") == "v9"
    finally:
        admin.acl_deluser(user)
        admin.close()


@pytest.mark.postgres
def test_the_subscription_speaks_resp2_whatever_the_url_asks(first, backend):
    """``?protocol=3`` in IDP_REDIS_URL: the subscriber still reads RESP2 replies."""
    other = RedisStore(backend.redis_url + "?protocol=3", prefix=first._prefix)
    try:
        first.announce("version", "v1", 60)
        assert other.watched_get("version") == "v1" and other._watch.subscribed
        first.announce("version", "v2", 60)
        assert other.watched_get("version") == "v2"
    finally:
        other._watch._drop()
