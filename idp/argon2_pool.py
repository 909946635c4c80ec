"""argon2 verification with a reused memory buffer per process (issue 2 "Performance").

argon2id at m=19 MiB needs a 19 MiB block matrix per hash. Allocated afresh for each hash,
its 4 865 pages are faulted (or populated) in every time: ≈ 6–7 ms of kernel CPU per login
in a busy server worker (bench/README.md, rounds 2 and 11). Here the C library's
allocate/free callbacks hand out buffers from a small per-process pool instead, so the
pages stay resident and are faulted in once per worker. The library still wipes the matrix
before "freeing" it (its own `clear_internal_memory`), so no password-derived data lingers
in a pooled buffer between logins.

Which C code computes a hash, fastest first:

1. ``_idp_argon2`` — argon2's optimised implementation compiled with AVX2 for this machine
   by scripts/build_argon2_native.py (``make venv``), with the pool, for hashes of the
   node's own memory cost. One such hash at a time per process (`_ONE_AT_A_TIME`): a hash
   is CPU- and memory-bound, so with one worker per core (``idp serve``'s default) more
   at once only contend, and one pooled buffer always suffices (worker RSS).
2. libsodium (PyNaCl) for argon2id with one lane and 16-byte salts — vectorised, but it
   maps and populates its own matrix for every hash.
3. argon2-cffi's wheel (SSE2 at most) with the pool, for everything else.

All compute the same function (RFC 9106; tests/unit/test_passwords.py and
tests/unit/test_argon2_pool.py check they agree).
"""

from __future__ import annotations

import base64
import hmac
import threading
from typing import Any

import nacl.bindings as sodium
from argon2 import Parameters, Type, extract_parameters
from argon2.low_level import ffi, lib
from nacl.exceptions import CryptoError


def cpu_has_avx2() -> bool:
    """Whether this CPU runs ``_idp_argon2``'s code: a venv or an image built elsewhere
    must fall back, not die of an illegal instruction at the first login."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            return any(line.startswith("flags") and " avx2" in line for line in info)
    except OSError:
        return False


native: Any = None
if cpu_has_avx2():  # before the import: the module is compiled for AVX2 throughout
    try:  # built for this machine by scripts/build_argon2_native.py; optional
        import _idp_argon2 as native
    except ImportError:  # no C compiler, or a venv made before it
        native = None

_TYPES = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}
_ONE_AT_A_TIME = threading.Lock()  # native hashes in this process (module docstring)


class BufferPool:
    """Buffers of one size kept for reuse; other sizes are allocated and dropped.

    `keep` bounds what stays resident between logins (worker RSS, issue 2): concurrent
    verifications beyond it get a fresh buffer that is released afterwards.
    """

    def __init__(self, size: int, keep: int, c: Any = ffi) -> None:
        self.size = size
        self.keep = keep
        self._ffi = c
        self.made = 0  # buffers allocated so far (tests: the pool and the lock at work)
        self._free: list[Any] = []
        self._lent: dict[int, Any] = {}
        self._lock = threading.Lock()
        # C function pointers for argon2_context; kept on self so they are not collected.
        self.allocate = c.callback("int(uint8_t **, size_t)", self._allocate, error=-22)
        self.release = c.callback("void(uint8_t *, size_t)", self._release)

    def _allocate(self, memory: Any, size: int) -> int:
        with self._lock:
            buf = self._free.pop() if size == self.size and self._free else None
        if buf is None:
            buf = self._ffi.new("uint8_t[]", size)
            self.made += 1
        address = int(self._ffi.cast("uintptr_t", buf))
        with self._lock:
            self._lent[address] = buf
        memory[0] = buf
        return 0

    def _release(self, memory: Any, size: int) -> None:
        address = int(self._ffi.cast("uintptr_t", memory))
        with self._lock:
            buf = self._lent.pop(address, None)
            if buf is not None and size == self.size and len(self._free) < self.keep:
                self._free.append(buf)

    @property
    def resident(self) -> int:
        """Buffers kept for the next verification (tests)."""
        with self._lock:
            return len(self._free)


def sodium_computes(variant: str, params: Any, salt: bytes, length: int) -> bool:
    """Whether libsodium's argon2id (one lane, 16-byte salts) can compute this hash."""
    return (variant == "argon2id" and params.version == 0x13 and params.parallelism == 1
            and len(salt) == sodium.crypto_pwhash_SALTBYTES
            and length >= sodium.crypto_pwhash_BYTES_MIN)


def sodium_argon2id(secret: bytes, salt: bytes, time_cost: int, memory_kib: int,
                    length: int) -> bytes:
    """The raw argon2id hash by libsodium; b"" for parameters it refuses (no match)."""
    try:
        return sodium.crypto_pwhash_alg(length, secret, salt, time_cost, memory_kib * 1024,
                                        sodium.crypto_pwhash_ALG_ARGON2ID13)
    except (CryptoError, ValueError, TypeError):
        return b""


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


class PooledVerifier:
    """Verify ``$argon2…$`` hashes, and compute raw argon2id, with the fastest C code here
    (module docstring). ``use_native=False``: as on a machine without ``_idp_argon2``."""

    def __init__(self, memory_kib: int, keep: int = 1, use_native: bool = True) -> None:
        self.pool = BufferPool(memory_kib * 1024, keep)
        self.native = native if use_native else None
        self.native_pool = None if self.native is None else \
            BufferPool(memory_kib * 1024, keep, self.native.ffi)

    def verify(self, hashed: str, password: str) -> bool:
        """True when ``password`` matches; False for a mismatch or a malformed hash."""
        try:
            variant = hashed.split("$", 2)[1]
            params = extract_parameters(hashed)
            salt_text, digest_text = hashed.rsplit("$", 2)[1:]
            salt, expected = _b64decode(salt_text), _b64decode(digest_text)
        except (ValueError, IndexError):  # malformed hash or base64 (InvalidHashError too)
            return False
        if variant not in _TYPES or not expected:
            return False
        return hmac.compare_digest(self._raw(variant, params, password.encode(), salt,
                                             len(expected)), expected)

    def argon2id(self, secret: bytes, salt: bytes, time_cost: int, memory_kib: int,
                 length: int) -> bytes:
        """The raw argon2id (v1.3, one lane) of ``secret``; b"" for parameters refused."""
        params = Parameters(type=Type.ID, version=0x13, salt_len=len(salt), hash_len=length,
                            time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        return self._raw("argon2id", params, secret, salt, length)

    def _raw(self, variant: str, params: Any, secret: bytes, salt: bytes, length: int) -> bytes:
        pool = self.native_pool  # None without the native module
        if pool is not None and params.memory_cost * 1024 == pool.size:
            # The node's own cost only: a costlier imported hash must not hold up the
            # worker's other logins behind the lock; it is computed as before.
            with _ONE_AT_A_TIME:
                return _argon2_ctx(self.native.ffi, self.native.lib, pool, variant, params,
                                   secret, salt, length)
        if sodium_computes(variant, params, salt, length):
            return sodium_argon2id(secret, salt, params.time_cost, params.memory_cost, length)
        return _argon2_ctx(ffi, lib, self.pool, variant, params, secret, salt, length)


def _argon2_ctx(c: Any, library: Any, pool: BufferPool, variant: str, params: Any,
                secret: bytes, salt: bytes, length: int) -> bytes:
    """``argon2_ctx`` of the C library ``library`` (cffi ``c``) with ``pool``'s buffers."""
    out = c.new("uint8_t[]", length)
    pwd = c.new("uint8_t[]", secret)
    csalt = c.new("uint8_t[]", salt)
    ctx = c.new("argon2_context *", {
        "out": out, "outlen": length,
        "pwd": pwd, "pwdlen": len(secret),
        "salt": csalt, "saltlen": len(salt),
        "secret": c.NULL, "secretlen": 0, "ad": c.NULL, "adlen": 0,
        "t_cost": params.time_cost, "m_cost": params.memory_cost,
        # Lanes one after the other (the same output): no threads to start, and none to
        # fail midway, which would leave the lent buffer neither wiped nor returned.
        "lanes": params.parallelism, "threads": 1,
        "version": params.version,
        "allocate_cbk": pool.allocate, "free_cbk": pool.release,
        "flags": library.ARGON2_DEFAULT_FLAGS,
    })
    code = library.argon2_ctx(ctx, _TYPES[variant].value)
    if code != library.ARGON2_OK:
        # Bad parameters in a stored hash (e.g. a salt too short): not a match.
        return b""
    return bytes(c.buffer(out, length))
