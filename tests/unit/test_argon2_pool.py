"""argon2 verification with a reused buffer (idp/argon2_pool.py, issue 2 "Performance").

The pool must verify exactly like argon2-cffi (every variant and version, any parameters),
keep at most `keep` buffers resident, and never raise on a malformed hash. argon2id with one
lane is computed by libsodium instead (its own memory), so the buffer tests use argon2d.
"""

from __future__ import annotations

import threading

import argon2
import pytest

from idp.argon2_pool import PooledVerifier

PASSWORD = "lètmein-密码-1"


def reference(type_: argon2.Type, memory_kib: int = 1024, parallelism: int = 1,
              version: int = 19) -> str:
    """A hash made by argon2-cffi's own high-level API, independent of the pool."""
    hasher = argon2.PasswordHasher(time_cost=1, memory_cost=memory_kib,
                                   parallelism=parallelism, type=type_)
    hashed = hasher.hash(PASSWORD)
    if version == 16:
        # argon2-cffi hashes v1.3 only; a v1.0 hash is made with the low-level API.
        raw = argon2.low_level.hash_secret(PASSWORD.encode(), b"saltsaltsalt", 1, memory_kib,
                                           parallelism, 32, type_, version=16)
        hashed = raw.decode()
    return hashed


@pytest.mark.parametrize(("type_", "memory_kib", "parallelism", "version"), [
    (argon2.Type.ID, 1024, 1, 19),
    (argon2.Type.ID, 2048, 2, 19),   # another size than the pool's: allocated, not kept
    (argon2.Type.I, 1024, 1, 19),
    (argon2.Type.D, 1024, 1, 19),
    (argon2.Type.ID, 1024, 1, 16),
])
def test_verifies_like_argon2_cffi(type_, memory_kib, parallelism, version):
    hashed = reference(type_, memory_kib, parallelism, version)
    verifier = PooledVerifier(1024)
    assert verifier.verify(hashed, PASSWORD)
    assert not verifier.verify(hashed, PASSWORD + "x")
    assert not verifier.verify(hashed, "")


def test_keeps_one_buffer_of_its_size_only():
    verifier = PooledVerifier(1024, keep=1)
    verifier.verify(reference(argon2.Type.D, 2048), PASSWORD)
    assert verifier.pool.resident == 0
    for _ in range(3):
        assert verifier.verify(reference(argon2.Type.D), PASSWORD)
    assert verifier.pool.resident == 1


def test_argon2id_with_one_lane_leaves_the_pool_to_libsodium():
    verifier = PooledVerifier(1024, keep=1)
    assert verifier.verify(reference(argon2.Type.ID), PASSWORD)
    assert verifier.pool.resident == 0


def test_concurrent_verifications_each_get_a_buffer():
    verifier = PooledVerifier(1024, keep=1)
    hashed = reference(argon2.Type.D)
    results: list[bool] = []

    def work() -> None:
        for _ in range(5):
            results.append(verifier.verify(hashed, PASSWORD))
            results.append(not verifier.verify(hashed, "wrong"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 40
    assert verifier.pool.resident == 1


@pytest.mark.parametrize("hashed", [
    "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$",                  # empty digest
    "$argon2id$v=19$m=1024,t=1,p=1$!!!!$AAAA",                      # not base64
    "$argon2id$v=19$m=1024,t=1,p=1$c2E$" + "A" * 43,                # salt too short
    "$argon2x$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$" + "A" * 43,         # unknown variant
    "$argon2id$v=19$m=1024$c2FsdHNhbHQ$" + "A" * 43,                # parameters missing
    "$argon2id",
    "",
])
def test_malformed_hash_is_no_match_and_never_raises(hashed):
    assert PooledVerifier(1024).verify(hashed, PASSWORD) is False
