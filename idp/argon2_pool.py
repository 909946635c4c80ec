"""argon2 verification with a reused memory buffer per process (issue 2 "Performance").

argon2id at m=19 MiB needs a 19 MiB block matrix per hash. argon2-cffi lets the C library
malloc and free it every time; once glibc gives it back to the OS, the next login
page-faults all 4 865 pages in again (≈ 6–7 ms of kernel CPU, bench/README.md round 2).
Here the C library's allocate/free callbacks hand out buffers from a small per-process
pool instead, so the pages stay resident and are faulted in once per worker. The library
still wipes the matrix before "freeing" it (its own `clear_internal_memory`), so no
password-derived data lingers in a pooled buffer between logins.

argon2id with one lane — every hash this platform makes (m=19 MiB, t=2, p=1), and most it
imports — is computed by libsodium (PyNaCl) instead: the same function (RFC 9106, version
0x13; tests/unit/test_passwords.py checks the outputs agree) with vectorised block mixing, at
≈ 12.5 ms of CPU per login against ≈ 22.5 ms for argon2-cffi's reference code here (bench/
README.md, round 6). Its block matrix is libsodium's own, wiped before it is freed. Other
variants, several lanes or salts other than 16 bytes keep argon2-cffi with the pool.
"""

from __future__ import annotations

import base64
import hmac
import threading
from typing import Any

import nacl.bindings as sodium
from argon2 import Type, extract_parameters
from argon2.low_level import ffi, lib
from nacl.exceptions import CryptoError

_TYPES = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}


class BufferPool:
    """Buffers of one size kept for reuse; other sizes are allocated and dropped.

    `keep` bounds what stays resident between logins (worker RSS, issue 2): concurrent
    verifications beyond it get a fresh buffer that is released afterwards.
    """

    def __init__(self, size: int, keep: int) -> None:
        self.size = size
        self.keep = keep
        self._free: list[Any] = []
        self._lent: dict[int, Any] = {}
        self._lock = threading.Lock()
        # C function pointers for argon2_context; kept on self so they are not collected.
        self.allocate = ffi.callback("int(uint8_t **, size_t)", self._allocate, error=-22)
        self.release = ffi.callback("void(uint8_t *, size_t)", self._release)

    def _allocate(self, memory: Any, size: int) -> int:
        with self._lock:
            buf = self._free.pop() if size == self.size and self._free else None
        if buf is None:
            buf = ffi.new("uint8_t[]", size)
        address = int(ffi.cast("uintptr_t", buf))
        with self._lock:
            self._lent[address] = buf
        memory[0] = buf
        return 0

    def _release(self, memory: Any, size: int) -> None:
        address = int(ffi.cast("uintptr_t", memory))
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
    """Verify ``$argon2…$`` hashes with buffers from a `BufferPool`."""

    def __init__(self, memory_kib: int, keep: int = 1) -> None:
        self.pool = BufferPool(memory_kib * 1024, keep)

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

    def _raw(self, variant: str, params: Any, secret: bytes, salt: bytes, length: int) -> bytes:
        if sodium_computes(variant, params, salt, length):
            return sodium_argon2id(secret, salt, params.time_cost, params.memory_cost, length)
        out = ffi.new("uint8_t[]", length)
        pwd = ffi.new("uint8_t[]", secret)
        csalt = ffi.new("uint8_t[]", salt)
        ctx = ffi.new("argon2_context *", {
            "out": out, "outlen": length,
            "pwd": pwd, "pwdlen": len(secret),
            "salt": csalt, "saltlen": len(salt),
            "secret": ffi.NULL, "secretlen": 0, "ad": ffi.NULL, "adlen": 0,
            "t_cost": params.time_cost, "m_cost": params.memory_cost,
            "lanes": params.parallelism, "threads": params.parallelism,
            "version": params.version,
            "allocate_cbk": self.pool.allocate, "free_cbk": self.pool.release,
            "flags": lib.ARGON2_DEFAULT_FLAGS,
        })
        code = lib.argon2_ctx(ctx, _TYPES[variant].value)
        if code != lib.ARGON2_OK:
            # Bad parameters in a stored hash (e.g. a salt too short): not a match.
            return b""
        return bytes(ffi.buffer(out, length))
