"""The Store port: one behavioural suite for every implementation (STYLE.md, warehouse).

`backend.store` is a `MemoryStore` (embedded) or a `RedisStore` (IDP_TEST_BACKEND=postgres).
"""

from __future__ import annotations

import threading
import time

import pytest

from idp.store import batch, get_json, pop_json, set_json


@pytest.fixture
def store(backend):  # type: ignore[no-untyped-def]
    return backend.store


def test_set_get_and_delete(store):
    assert store.get("k") is None
    store.set("k", "v", 60)
    assert store.get("k") == "v"
    store.set("k", "w", 60)
    assert store.get("k") == "w"
    store.delete("k", "absent")
    assert store.get("k") is None
    store.delete()  # no keys: no error


def test_mget_reads_several_keys_in_order(store):
    store.set("a", "1", 60)
    store.set("c", "3", 60)
    store.sadd("s", "m", 60)  # not a string value: reads as absent, like `get`
    assert store.mget("a", "b", "c", "s") == ["1", None, "3", None]
    assert store.mget() == []


def test_mget_skips_expired_keys(store):
    store.set("gone", "v", 1)
    store.set("kept", "w", 60)
    time.sleep(1.1)
    assert store.mget("gone", "kept") == [None, "w"]


def test_value_expires(store):
    store.set("short", "v", 1)
    assert store.get("short") == "v"
    time.sleep(1.1)
    assert store.get("short") is None
    assert store.ttl("short") == 0


def test_add_stores_only_when_absent(store):
    assert store.add("lock", "a", 60) is True
    assert store.add("lock", "b", 60) is False
    assert store.get("lock") == "a"


def test_pop_is_single_use(store):
    store.set("code", "payload", 60)
    assert store.pop("code") == "payload"
    assert store.pop("code") is None
    assert store.get("code") is None


def test_concurrent_pop_has_one_winner(store):
    store.set("once", "x", 60)
    results: list[str | None] = []
    threads = [threading.Thread(target=lambda: results.append(store.pop("once")))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("x") == 1


def test_incr_counts_and_window_starts_at_first_hit(store):
    assert store.incr("c", 60) == 1
    assert store.incr("c", 1) == 2  # a later ttl does not extend or shorten the window
    assert 50 < store.ttl("c") <= 60
    assert store.get("c") == "2"


def test_concurrent_incr_loses_no_count(store):
    def work() -> None:
        for _ in range(50):
            store.incr("n", 60)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("n") == "200"


def test_ttl(store):
    assert store.ttl("absent") == 0
    store.set("k", "v", 100)
    assert 90 < store.ttl("k") <= 100


def test_sets(store):
    assert store.smembers("s") == set()
    store.sadd("s", "a", 60)
    store.sadd("s", "b", 60)
    store.sadd("s", "a", 60)
    assert store.smembers("s") == {"a", "b"}
    store.delete("s")
    assert store.smembers("s") == set()


def test_json_helpers(store):
    set_json(store, "j", {"a": [1, "二"]}, 60)
    assert get_json(store, "j") == {"a": [1, "二"]}
    assert pop_json(store, "j") == {"a": [1, "二"]}
    assert get_json(store, "j") is None
    assert pop_json(store, "j") is None


def test_ping(store):
    assert store.ping() is True


def test_replace_overwrites_only_an_existing_key_and_returns_the_old_value(store):
    assert store.replace("absent", "x", 60) is None
    assert store.get("absent") is None  # nothing stored for an absent key
    store.set("code", "payload", 5)
    assert store.replace("code", "used", 100) == "payload"
    assert store.get("code") == "used"
    assert 90 < store.ttl("code") <= 100  # the new expiry replaces the old
    assert store.replace("code", "used again", 100) == "used"


def test_concurrent_replace_has_one_winner(store):
    store.set("once", "code", 60)
    results: list[str | None] = []
    threads = [threading.Thread(target=lambda: results.append(store.replace("once", "used", 60)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("code") == 1 and results.count("used") == 7


def test_batch_applies_its_writes_together_at_the_end(store):
    store.set("old", "v", 60)
    with batch(store) as writes:
        writes.set("a", "1", 60)
        writes.set_json("j", {"k": 1}, 60)
        writes.sadd("s", "m", 60)
        writes.delete("old", "absent")
        assert store.get("a") is None and store.get("old") == "v"  # nothing sent yet
    assert store.mget("a", "old") == ["1", None]
    assert get_json(store, "j") == {"k": 1}
    assert store.smembers("s") == {"m"} and 50 < store.ttl("s") <= 60


def test_batch_is_dropped_when_the_block_fails(store):
    with pytest.raises(RuntimeError), batch(store) as writes:
        writes.set("a", "1", 60)
        raise RuntimeError
    assert store.get("a") is None
    with batch(store):
        pass  # an empty batch sends nothing
