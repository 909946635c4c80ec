"""argon2 with a reused buffer (idp/argon2_pool.py, issue 2 "Performance").

Both ways a pooled hash is computed — ``_idp_argon2`` built for this machine and, where it
is missing, argon2-cffi's wheel — must verify exactly like argon2-cffi (every variant and
version, any parameters), keep at most `keep` buffers resident, and never raise on a
malformed hash. Without the native module, argon2id with one lane is libsodium's (its own
memory), so the fallback's buffer tests use argon2d.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import argon2
import pytest

from idp import argon2_pool
from idp.argon2_pool import PooledVerifier

PASSWORD = "lètmein-密码-1"
ENGINES = {"native": True, "fallback": False}


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


def verifier(engine: str, keep: int = 1) -> tuple[PooledVerifier, argon2_pool.BufferPool]:
    """A verifier of ``engine`` and the pool that engine's hashes draw from."""
    if engine == "native" and argon2_pool.native is None:
        pytest.skip("no _idp_argon2 here: test_the_native_engine_is_built_on_this_machine")
    made = PooledVerifier(1024, keep=keep, use_native=ENGINES[engine])
    pool = made.native_pool if engine == "native" else made.pool
    assert pool is not None
    return made, pool


@pytest.fixture(params=ENGINES)
def engine(request):  # type: ignore[no-untyped-def]
    return request.param


def test_the_native_engine_is_built_on_this_machine():
    """`make venv` builds it wherever it can (x86-64 with AVX2 and a C compiler): the
    benchmark and the production image measure and run it, not a silent fallback."""
    path = Path(__file__).resolve().parents[2] / "scripts" / "build_argon2_native.py"
    spec = importlib.util.spec_from_file_location("build_argon2_native", path)
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    reason = script.skip_reason()
    assert reason is not None or argon2_pool.native is not None, "run make venv again"


@pytest.mark.parametrize(("type_", "memory_kib", "parallelism", "version"), [
    (argon2.Type.ID, 1024, 1, 19),
    (argon2.Type.ID, 2048, 2, 19),   # another size than the pool's: allocated, not kept
    (argon2.Type.I, 1024, 1, 19),
    (argon2.Type.D, 1024, 1, 19),
    (argon2.Type.ID, 1024, 1, 16),
])
def test_verifies_like_argon2_cffi(engine, type_, memory_kib, parallelism, version):
    hashed = reference(type_, memory_kib, parallelism, version)
    checker, _ = verifier(engine)
    assert checker.verify(hashed, PASSWORD)
    assert not checker.verify(hashed, PASSWORD + "x")
    assert not checker.verify(hashed, "")


def test_raw_argon2id_is_the_same_whichever_code_computes_it():
    salt = b"0123456789abcdef"
    expected = argon2.low_level.hash_secret_raw(PASSWORD.encode(), salt, 2, 1024, 1, 32,
                                                argon2.Type.ID)
    for use_native in (True, False):
        made = PooledVerifier(1024, use_native=use_native)
        assert made.argon2id(PASSWORD.encode(), salt, 2, 1024, 32) == expected


def test_keeps_one_buffer_of_its_size_only(engine):
    checker, pool = verifier(engine)
    checker.verify(reference(argon2.Type.D, 2048), PASSWORD)
    assert pool.resident == 0
    for _ in range(3):
        assert checker.verify(reference(argon2.Type.D), PASSWORD)
    assert pool.resident == 1


def test_without_the_native_engine_argon2id_with_one_lane_is_libsodiums():
    checker, pool = verifier("fallback")
    assert checker.verify(reference(argon2.Type.ID), PASSWORD)
    assert pool.made == 0


def test_concurrent_verifications_are_right_and_native_ones_share_one_buffer(engine):
    """Native hashes run one at a time per process, so the one pooled buffer always
    serves; the fallback's run side by side, each with a buffer."""
    checker, pool = verifier(engine)
    hashed = reference(argon2.Type.D)
    results: list[bool] = []

    def work() -> None:
        for _ in range(5):
            results.append(checker.verify(hashed, PASSWORD))
            results.append(not checker.verify(hashed, "wrong"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 40
    assert pool.resident == 1
    if engine == "native":
        assert pool.made == 1


def test_a_hash_of_another_cost_is_not_held_up_by_the_lock():
    """Only hashes of the node's own memory cost take the one-at-a-time lock: an imported
    hash of another cost (possibly far costlier) runs beside them, not behind them."""
    checker, _ = verifier("native")
    other = reference(argon2.Type.ID, memory_kib=2048)
    done: list[bool] = []
    with argon2_pool._ONE_AT_A_TIME:  # a login of the node's own cost in progress
        worker = threading.Thread(target=lambda: done.append(checker.verify(other, PASSWORD)))
        worker.start()
        worker.join(10)
    assert done == [True]


@pytest.mark.parametrize("hashed", [
    "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$",                  # empty digest
    "$argon2id$v=19$m=1024,t=1,p=1$!!!!$AAAA",                      # not base64
    "$argon2id$v=19$m=1024,t=1,p=1$c2E$" + "A" * 43,                # salt too short
    "$argon2x$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$" + "A" * 43,         # unknown variant
    "$argon2id$v=19$m=1024$c2FsdHNhbHQ$" + "A" * 43,                # parameters missing
    "$argon2id",
    "",
])
def test_malformed_hash_is_no_match_and_never_raises(engine, hashed):
    checker, _ = verifier(engine)
    assert checker.verify(hashed, PASSWORD) is False
