"""Password hashing: argon2id for every new hash; legacy forms verified once (DESIGN.md).

Accepted legacy forms, exactly as `idp accounts import` takes them (docs/operations.md):

- bcrypt: ``$2a$``, ``$2b$`` or ``$2y$`` modular crypt strings;
- PBKDF2-SHA256, passlib: ``$pbkdf2-sha256$<rounds>$<salt ab64>$<digest ab64>`` where ab64 is
  base64 with ``.`` for ``+`` and no padding;
- PBKDF2-SHA256, Django: ``pbkdf2_sha256$<iterations>$<salt>$<digest base64>``, the salt
  used as its UTF-8 text;
- salted SHA-256: ``sha256$<salt>$<hex digest>``, digest = SHA-256(UTF-8 of salt + password);
- SM3 (GB/T 32905): ``sm3$<salt>$<hex digest>``, digest = SM3(UTF-8 of salt + password);
- argon2 (``$argon2id$``, ``$argon2i$``, ``$argon2d$``).

Anything but argon2id with the current parameters reports ``needs_rehash`` so the caller
replaces it at the first successful login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import argon2
import bcrypt
from argon2.exceptions import InvalidHashError

from idp.argon2_pool import PooledVerifier

LEGACY_SCHEMES = ("bcrypt", "pbkdf2-sha256", "django-pbkdf2-sha256", "sha256", "sm3", "argon2")


class UnknownHashFormat(ValueError):
    """The text is not one of the accepted password hash forms."""


@dataclass(frozen=True)
class Verification:
    ok: bool
    needs_rehash: bool = False


def scheme_of(hashed: str) -> str:
    """Name the scheme of a stored hash; raise `UnknownHashFormat` if none fits.

    A hash whose work factor is outside what a login can afford (`_MAX_PBKDF2_ROUNDS`,
    `_MAX_BCRYPT_COST`, `_MAX_ARGON2_MEMORY_KIB`) is refused too: verifying it would tie a
    worker up for minutes, and an imported file must not be able to do that.
    """
    if hashed.startswith(("$argon2id$", "$argon2i$", "$argon2d$")):
        return _affordable("argon2", _argon2_cost_ok(hashed))
    if _BCRYPT.fullmatch(hashed):
        return _affordable("bcrypt", 4 <= int(hashed[4:6]) <= _MAX_BCRYPT_COST)
    parts = hashed.split("$")
    if _PASSLIB_PBKDF2.fullmatch(hashed):
        return _affordable("pbkdf2-sha256", _rounds_ok(parts[2]))
    if _DJANGO_PBKDF2.fullmatch(hashed):
        return _affordable("django-pbkdf2-sha256", _rounds_ok(parts[1]))
    if parts[0] in ("sha256", "sm3") and len(parts) == 3 and _is_hex(parts[2], 64):
        return parts[0]
    raise UnknownHashFormat("not a recognised password hash")


_BCRYPT = re.compile(r"\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}")
# 32-byte digests: 43 characters of unpadded (ab)64, 44 of padded base64.
_PASSLIB_PBKDF2 = re.compile(r"\$pbkdf2-sha256\$[0-9]{1,9}\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{43}")
_DJANGO_PBKDF2 = re.compile(r"pbkdf2_sha256\$[0-9]{1,9}\$[^$]+\$[+/A-Za-z0-9]{43}=")
_MAX_PBKDF2_ROUNDS = 10_000_000
_MAX_BCRYPT_COST = 16
_MAX_ARGON2_MEMORY_KIB = 1024 * 1024
_MAX_ARGON2_TIME_COST = 32


def _affordable(scheme: str, ok: bool) -> str:
    if not ok:
        raise UnknownHashFormat(f"{scheme} hash with an unaffordable or invalid work factor")
    return scheme


def _rounds_ok(text: str) -> bool:
    return 1 <= int(text) <= _MAX_PBKDF2_ROUNDS


def _argon2_cost_ok(hashed: str) -> bool:
    try:
        params = argon2.extract_parameters(hashed)
    except (InvalidHashError, ValueError):
        return False
    return (params.memory_cost <= _MAX_ARGON2_MEMORY_KIB
            and params.time_cost <= _MAX_ARGON2_TIME_COST and params.parallelism <= 64)


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and all(c in "0123456789abcdefABCDEF" for c in text)


def _b64(raw: bytes) -> str:
    """The PHC string format's base64: standard alphabet, no padding."""
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _ab64_decode(text: str) -> bytes:
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4))


class PasswordHasher:
    """argon2id hasher with the node's parameters and verifiers for legacy forms."""

    def __init__(self, memory_kib: int = 19 * 1024, time_cost: int = 2, parallelism: int = 1):
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        # Logins verify with a reused 19 MiB buffer (idp/argon2_pool.py, issue 2).
        self._pooled = PooledVerifier(memory_kib)

    def hash(self, password: str) -> str:
        """A new argon2id hash (PHC string format, 16-byte salt, 32-byte digest) — by the
        fastest C code here (idp/argon2_pool.py), else argon2-cffi's own."""
        params = self._argon2
        if params.parallelism != 1:
            return params.hash(password)
        salt = secrets.token_bytes(16)
        digest = self._pooled.argon2id(password.encode(), salt, params.time_cost,
                                       params.memory_cost, 32)
        if not digest:  # parameters refused
            return params.hash(password)
        return (f"$argon2id$v=19$m={params.memory_cost},t={params.time_cost},p=1"
                f"${_b64(salt)}${_b64(digest)}")

    def verify(self, hashed: str, password: str) -> Verification:
        """Check ``password`` against ``hashed`` in any accepted form."""
        try:
            scheme = scheme_of(hashed)
            password.encode()  # a lone surrogate (JSON can carry one) cannot be hashed
        except (UnknownHashFormat, UnicodeEncodeError):
            return Verification(False)
        ok = _VERIFIERS[scheme](self, hashed, password)
        if not ok:
            return Verification(False)
        rehash = scheme != "argon2" or self._argon2.check_needs_rehash(hashed)
        return Verification(True, rehash)

    def _verify_argon2(self, hashed: str, password: str) -> bool:
        return self._pooled.verify(hashed, password)


def _verify_bcrypt(_h: PasswordHasher, hashed: str, password: str) -> bool:
    normalized = "$2b$" + hashed[4:] if hashed.startswith("$2y$") else hashed
    try:
        return bcrypt.checkpw(password.encode()[:72], normalized.encode())
    except ValueError:
        return False


def _verify_passlib_pbkdf2(_h: PasswordHasher, hashed: str, password: str) -> bool:
    _, _, rounds, salt, digest = hashed.split("$")
    try:
        expected = _ab64_decode(digest)
        computed = hashlib.pbkdf2_hmac("sha256", password.encode(), _ab64_decode(salt), int(rounds))
    except ValueError:
        return False
    return hmac.compare_digest(computed, expected)


def _verify_django_pbkdf2(_h: PasswordHasher, hashed: str, password: str) -> bool:
    _, iterations, salt, digest = hashed.split("$")
    try:
        expected = base64.b64decode(digest, validate=True)
    except ValueError:
        return False
    computed = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    return hmac.compare_digest(computed, expected)


def _verify_salted(algorithm: str):  # type: ignore[no-untyped-def]
    def verify(_h: PasswordHasher, hashed: str, password: str) -> bool:
        _, salt, digest = hashed.split("$")
        computed = hashlib.new(algorithm, (salt + password).encode()).hexdigest()
        return hmac.compare_digest(computed, digest.lower())

    return verify


_VERIFIERS = {
    "argon2": PasswordHasher._verify_argon2,
    "bcrypt": _verify_bcrypt,
    "pbkdf2-sha256": _verify_passlib_pbkdf2,
    "django-pbkdf2-sha256": _verify_django_pbkdf2,
    "sha256": _verify_salted("sha256"),
    "sm3": _verify_salted("sm3"),
}
