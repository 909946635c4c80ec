"""Password hashing: argon2id and the legacy forms accepted on import (DESIGN.md, issue 2 §3).

Vectors are produced here with the real libraries (bcrypt, hashlib), independently of the
verifiers under test; the Django vector is the one from Django's own test suite.
"""

from __future__ import annotations

import base64
import hashlib
import re

import argon2
import bcrypt
import pytest

from idp.passwords import PasswordHasher, UnknownHashFormat, scheme_of

PASSWORD = "lètmein-密码-1"
FAST = PasswordHasher(memory_kib=1024, time_cost=1)


def _ab64(raw: bytes) -> str:
    """passlib's "adapted base64": ``.`` instead of ``+``, no padding."""
    return base64.b64encode(raw).decode().replace("+", ".").rstrip("=")


def bcrypt_hash(prefix: str = "$2b$") -> str:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    return prefix + hashed[4:]


def passlib_hash(rounds: int = 1000) -> str:
    salt = b"\x01\x02salt\xfe\xff"
    digest = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, rounds)
    return f"$pbkdf2-sha256${rounds}${_ab64(salt)}${_ab64(digest)}"


def django_hash(salt: str = "NaCl5alt", iterations: int = 1000) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


def salted_hash(algorithm: str, salt: str = "s4lt") -> str:
    return f"{algorithm}${salt}${hashlib.new(algorithm, (salt + PASSWORD).encode()).hexdigest()}"


LEGACY = {
    "bcrypt-2a": (lambda: bcrypt_hash("$2a$"), "bcrypt"),
    "bcrypt-2b": (lambda: bcrypt_hash("$2b$"), "bcrypt"),
    "bcrypt-2y": (lambda: bcrypt_hash("$2y$"), "bcrypt"),
    "passlib-pbkdf2": (passlib_hash, "pbkdf2-sha256"),
    "django-pbkdf2": (django_hash, "django-pbkdf2-sha256"),
    "sha256": (lambda: salted_hash("sha256"), "sha256"),
    "sha256-empty-salt": (lambda: salted_hash("sha256", ""), "sha256"),
    "sm3": (lambda: salted_hash("sm3"), "sm3"),
}


@pytest.mark.parametrize("kind", LEGACY)
def test_legacy_hash_verifies_and_asks_for_rehash(kind):
    make, scheme = LEGACY[kind]
    hashed = make()
    assert scheme_of(hashed) == scheme
    result = FAST.verify(hashed, PASSWORD)
    assert result.ok and result.needs_rehash


@pytest.mark.parametrize("kind", LEGACY)
def test_legacy_hash_refuses_wrong_password(kind):
    hashed = LEGACY[kind][0]()
    assert not FAST.verify(hashed, PASSWORD + "x").ok
    assert not FAST.verify(hashed, "").ok


def test_salted_hash_digest_is_case_insensitive():
    hashed = salted_hash("sm3")
    algorithm, salt, digest = hashed.split("$")
    assert FAST.verify(f"{algorithm}${salt}${digest.upper()}", PASSWORD).ok


def test_sm3_vector_matches_gbt_32905_example():
    # GB/T 32905-2016 Appendix A.1: SM3("abc"); salt "a" + password "bc".
    hashed = "sm3$a$66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert FAST.verify(hashed, "bc").ok


def test_django_vector_from_django_test_suite():
    # django/tests/auth_tests/test_hashers.py (Django 5.0): make_password("lètmein", "seasalt")
    hashed = "pbkdf2_sha256$720000$seasalt$eDupbcisD1UuIiou3hMuMu8oe/XwnpDw45r6AA5iv0E="
    assert scheme_of(hashed) == "django-pbkdf2-sha256"
    assert FAST.verify(hashed, "lètmein").ok
    assert not FAST.verify(hashed, "lètmeinz").ok


def test_bcrypt_uses_only_the_first_72_bytes_like_the_legacy_platform():
    long_password = "a" * 80
    hashed = bcrypt.hashpw(long_password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    assert FAST.verify(hashed, long_password).ok


def test_argon2id_with_current_parameters_needs_no_rehash():
    hashed = FAST.hash(PASSWORD)
    assert hashed.startswith("$argon2id$")
    assert FAST.verify(hashed, PASSWORD) == FAST.verify(hashed, PASSWORD)
    result = FAST.verify(hashed, PASSWORD)
    assert result.ok and not result.needs_rehash
    assert not FAST.verify(hashed, "wrong").ok


@pytest.mark.parametrize("other", [
    argon2.PasswordHasher(memory_cost=2048, time_cost=1, parallelism=1),
    argon2.PasswordHasher(memory_cost=1024, time_cost=2, parallelism=1),
    argon2.PasswordHasher(memory_cost=1024, time_cost=1, parallelism=1, type=argon2.Type.I),
], ids=["more-memory", "more-time", "argon2i"])
def test_argon2_with_other_parameters_verifies_and_needs_rehash(other):
    hashed = other.hash(PASSWORD)
    assert scheme_of(hashed) == "argon2"
    result = FAST.verify(hashed, PASSWORD)
    assert result.ok and result.needs_rehash


# Hashes of every shape, whichever C code here computes them (idp/argon2_pool.py: the
# native module, libsodium, argon2-cffi): each made by argon2-cffi must verify here, and
# only with the right password.
CFFI_MADE = {
    "argon2id-p1": argon2.PasswordHasher(memory_cost=1024, time_cost=1, parallelism=1),
    "argon2id-p1-long-digest": argon2.PasswordHasher(memory_cost=1024, time_cost=1,
                                                     parallelism=1, hash_len=64),
    "argon2id-p2": argon2.PasswordHasher(memory_cost=1024, time_cost=1, parallelism=2),
    "argon2id-short-salt": argon2.PasswordHasher(memory_cost=1024, time_cost=1,
                                                 parallelism=1, salt_len=8),
    "argon2d": argon2.PasswordHasher(memory_cost=1024, time_cost=1, type=argon2.Type.D),
}


@pytest.mark.parametrize("maker", CFFI_MADE.values(), ids=CFFI_MADE.keys())
@pytest.mark.parametrize("password", [PASSWORD, "", "a\x00b", "x" * 1000])
def test_argon2_hashes_made_elsewhere_verify(maker, password):
    hashed = maker.hash(password)
    assert FAST.verify(hashed, password).ok
    assert not FAST.verify(hashed, password + "!").ok


@pytest.mark.parametrize(("memory_kib", "time_cost"),
                         [(8, 1), (1024, 1), (1024, 3), (19 * 1024, 2)])
def test_our_argon2id_hashes_verify_with_argon2_cffi(memory_kib, time_cost):
    """The native module or libsodium makes them; argon2-cffi must agree (RFC 9106)."""
    ours = PasswordHasher(memory_kib=memory_kib, time_cost=time_cost)
    hashed = ours.hash(PASSWORD)
    assert re.fullmatch(rf"\$argon2id\$v=19\$m={memory_kib},t={time_cost},p=1"
                        r"\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}", hashed)
    assert argon2.PasswordHasher().verify(hashed, PASSWORD)
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        argon2.PasswordHasher().verify(hashed, "wrong")


def test_production_parameters_are_owasp_minimum():
    """The one test on the real cost: m=19 MiB, t=2, p=1."""
    hashed = PasswordHasher().hash(PASSWORD)
    params = argon2.extract_parameters(hashed)
    assert (params.type, params.memory_cost, params.time_cost, params.parallelism) == (
        argon2.Type.ID, 19 * 1024, 2, 1)
    assert PasswordHasher().verify(hashed, PASSWORD).ok


def test_hashes_are_salted():
    assert FAST.hash(PASSWORD) != FAST.hash(PASSWORD)


def test_lone_surrogate_password_is_refused_not_raised():
    for hashed in (FAST.hash(PASSWORD), salted_hash("sha256"), django_hash(), bcrypt_hash()):
        assert not FAST.verify(hashed, "\ud800").ok


MALFORMED = [
    "",
    "plain-text-password",
    "$2b$04$tooShort",
    "$2b$99$" + "a" * 53,  # bcrypt cost out of range
    "$2b$31$" + "a" * 53,  # valid cost, but hours per login
    "$2x$04$" + "a" * 53,
    "$2b$04$" + "!" * 53,  # right length, not bcrypt base64
    "$pbkdf2-sha256$",
    "$pbkdf2-sha256$abc$c2FsdA$ZGlnZXN0",
    "$pbkdf2-sha256$0$c2FsdA$ZGlnZXN0",
    "$pbkdf2-sha256$99999999999$c2FsdA$ZGlnZXN0",  # unaffordable
    "$pbkdf2-sha256$1000$c2FsdA$ZGln%%%",  # digest not base64
    "$pbkdf2-sha256$1000$$",
    "pbkdf2_sha256$",
    "pbkdf2_sha256$0$salt$ZGlnZXN0",  # zero iterations
    "pbkdf2_sha256$²$salt$ZGlnZXN0",  # a "digit" int() refuses
    "pbkdf2_sha256$1000$salt$not base64!",
    "pbkdf2_sha256$1000$salt",
    "sha256$salt$abc",
    "sha256$salt$" + "g" * 64,
    "sha256$$",
    "sm3$salt$" + "0" * 63,
    "sm3$a$b$" + "0" * 64,
    "md5$salt$" + "0" * 32,
    "$argon2id$",
    "$argon2id$v=19$m=1024,t=1,p=1$garbage",
    "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$" + "A" * 43,  # 4 GiB
    "$argon2id$v=19$m=1024,t=1000,p=1$c29tZXNhbHQ$" + "A" * 43,
    "\x00" * 60,
    "pbkdf2_sha256$" + "9" * 5000 + "$salt$" + "A" * 43 + "=",  # int() refuses > 4300 digits
    "$pbkdf2-sha256$١٠٠٠$c2FsdA$" + "A" * 43,  # Arabic-Indic digits
    "$2b$04$" + "é" * 53,
]


@pytest.mark.parametrize("hashed", MALFORMED)
def test_malformed_hash_never_verifies_and_never_raises(hashed):
    assert not FAST.verify(hashed, PASSWORD).ok
    assert not FAST.verify(hashed, "").ok


@pytest.mark.parametrize("hashed", MALFORMED)
def test_malformed_hash_is_refused_by_scheme_of(hashed):
    with pytest.raises(UnknownHashFormat):
        scheme_of(hashed)
