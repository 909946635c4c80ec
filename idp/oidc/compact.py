"""Compact JWS (RFC 7515 §3.1) signing and verification for our own access tokens.

The hot paths (every token issued, every userinfo and introspection call) sign or verify
one JWT. Done through joserfc's generic machinery that cost about three times the
signature itself (header registries, key-set lookups, claim re-serialisation), so access
tokens — whose headers we write ourselves — use this small direct path over
``cryptography``: ES256 (RFC 7518 §3.4, raw ``r || s``) and RS256 (§3.3, PKCS #1 v1.5).

Verification accepts only the shape we issue: a JSON header of exactly ``alg``, ``kid``
and ``typ`` whose ``alg`` equals the registered algorithm of the key named by ``kid``.
Anything else is answered `UNSUPPORTED`, and the caller falls back to joserfc, so tokens
that are not of this shape are judged exactly as before.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

UNSUPPORTED = object()  # "not our shape: ask joserfc"
_ES256 = ec.ECDSA(hashes.SHA256())
_HEADER_KEYS = {"alg", "kid", "typ"}


def b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def unb64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@lru_cache(maxsize=64)
def _encoded_header(alg: str, typ: str, kid: str) -> bytes:
    """The protected header (RFC 7515 §4), encoded once per key and token type."""
    return b64(_json({"alg": alg, "typ": typ, "kid": kid}))


@dataclass(frozen=True)
class Signer:
    """One private key with its algorithm; the encoded header is built once per type."""

    kid: str
    alg: str
    key: Any  # cryptography private key

    def header(self, typ: str) -> bytes:
        return _encoded_header(self.alg, typ, self.kid)

    def sign(self, typ: str, claims: dict[str, Any]) -> str:
        signing_input = self.header(typ) + b"." + b64(_json(claims))
        if self.alg == "ES256":
            r, s = decode_dss_signature(self.key.sign(signing_input, _ES256))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        elif self.alg == "RS256":
            signature = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise ValueError(f"unsupported signing algorithm {self.alg!r}")
        return (signing_input + b"." + b64(signature)).decode("ascii")


@dataclass(frozen=True)
class Verified:
    header: dict[str, Any]
    claims: dict[str, Any]


def verify(token: str, keys: dict[str, tuple[str, Any]]) -> Verified | None | object:
    """Check a compact JWS against ``keys`` (kid -> (alg, public key)).

    Returns the header and claims, None for a token that is certainly invalid (bad
    signature, malformed encoding), or `UNSUPPORTED` when the token is not of the shape this
    module handles (unknown kid, other header parameters).
    """
    try:
        head, body, sig = token.split(".")
        header = json.loads(unb64(head))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):  # nested: bad input
        return UNSUPPORTED
    if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
        return UNSUPPORTED
    found = keys.get(header["kid"]) if isinstance(header["kid"], str) else None
    if found is None or header["alg"] != found[0]:
        return UNSUPPORTED
    alg, key = found
    try:
        signature = unb64(sig)
        signing_input = f"{head}.{body}".encode("ascii")
        if alg == "ES256":
            if len(signature) != 64:
                return None
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                       int.from_bytes(signature[32:], "big"))
            key.verify(der, signing_input, _ES256)
        else:
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        claims = json.loads(unb64(body))
    except (InvalidSignature, ValueError, binascii.Error, UnicodeError, RecursionError):
        return None
    if not isinstance(claims, dict):
        return None
    return Verified(header, claims)
