"""Signed identity headers: what the gateway sends and what a legacy application checks.

The gateway (through nginx ``auth_request``, or as the reverse proxy) adds these headers to
every request it lets through::

    X-Idp-Sub        the person's subject identifier at this client (OIDC Core §2 ``sub``)
    X-Idp-Name       the masked name (``张*``), UTF-8 percent-encoded (RFC 3986 §2.1)
    X-Idp-Acr        real-name level, e.g. ``urn:idp:acr:realname:2`` (OIDC Core §2 ``acr``)
    X-Idp-Amr        methods used, space-separated, e.g. ``pwd sms`` (RFC 8176)
    X-Idp-Time       when the gateway signed them, Unix seconds
    X-Idp-Signature  ``v1=`` + lowercase hex HMAC-SHA256 (RFC 2104) of the canonical string

The canonical string is the six lines below joined by ``\\n`` (LF), values exactly as sent
(header values are ASCII, so they cannot contain a line break)::

    idp-gw-v1
    <X-Idp-Time>
    <X-Idp-Sub>
    <X-Idp-Name>
    <X-Idp-Acr>
    <X-Idp-Amr>

The key is shared only by the gateway and the legacy application. A receiver recomputes the
HMAC, compares in constant time, and refuses a time older than ``max_age`` seconds (30 by
default: the headers are made milliseconds before nginx forwards the request) or more than
``skew`` seconds in the future. This module uses the standard library only, so a legacy
Python application can copy it as it is; README.md shows the same check in Java and PHP.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

VERSION = "idp-gw-v1"
SIGNATURE_PREFIX = "v1="
HEADERS = ("X-Idp-Sub", "X-Idp-Name", "X-Idp-Acr", "X-Idp-Amr", "X-Idp-Time",
           "X-Idp-Signature")
ACR_PREFIX = "urn:idp:acr:realname:"
MIN_KEY_BYTES = 32
MAX_VALUE = 1024  # longer header values are refused before any work is done


class SignatureError(ValueError):
    """The identity headers are missing, malformed, stale or not signed with our key."""


@dataclass(frozen=True)
class Identity:
    """The person a verified request comes from."""

    sub: str
    name: str  # masked, decoded: ``张*``
    acr: str
    amr: tuple[str, ...]
    signed_at: int

    @property
    def level(self) -> int:
        """The real-name level (1–3) named by ``acr``; 0 when it is not one of ours."""
        tail = self.acr.removeprefix(ACR_PREFIX)
        return int(tail) if self.acr.startswith(ACR_PREFIX) and tail.isdigit() else 0


def _canonical(time_s: str, sub: str, name: str, acr: str, amr: str) -> bytes:
    return "\n".join((VERSION, time_s, sub, name, acr, amr)).encode("ascii")


def _mac(key: bytes, message: bytes) -> str:
    return SIGNATURE_PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_identity(key: bytes, *, sub: str, name: str, acr: str, amr: Iterable[str],
                  now: float | None = None) -> dict[str, str]:
    """The six headers for one request (gateway side)."""
    values = {
        "X-Idp-Sub": sub,
        "X-Idp-Name": quote(name, safe=""),
        "X-Idp-Acr": acr,
        "X-Idp-Amr": " ".join(amr),
        "X-Idp-Time": str(int(time.time() if now is None else now)),
    }
    for header, value in values.items():
        if not value.isascii() or "\n" in value or "\r" in value:
            raise SignatureError(f"{header} is not a plain ASCII value")
    values["X-Idp-Signature"] = _mac(key, _canonical(
        values["X-Idp-Time"], values["X-Idp-Sub"], values["X-Idp-Name"],
        values["X-Idp-Acr"], values["X-Idp-Amr"]))
    return values


def _get(headers: Mapping[str, str], name: str) -> str:
    """A header by name, case-insensitively; WSGI environ keys (HTTP_X_IDP_SUB) work too."""
    for key in (name, name.lower(), "HTTP_" + name.upper().replace("-", "_")):
        if key in headers:
            value = headers[key]
            if not isinstance(value, str) or len(value) > MAX_VALUE:
                raise SignatureError(f"{name} is malformed")
            return value
    raise SignatureError(f"{name} is missing")


def verify_identity(headers: Mapping[str, str], keys: bytes | Iterable[bytes], *,
                    max_age: int = 30, skew: int = 5, now: float | None = None) -> Identity:
    """Check the signed headers (legacy application side); return who is signed in.

    ``keys`` may be a list so the key can be rotated: the gateway signs with the new key
    while receivers accept both. Raises `SignatureError` on anything wrong; the
    application must then answer 401 and use none of the values.
    """
    key_list = [keys] if isinstance(keys, bytes) else list(keys)
    if not key_list or any(len(k) < MIN_KEY_BYTES for k in key_list):
        raise SignatureError(f"keys must be at least {MIN_KEY_BYTES} bytes")
    sub, name, acr, amr, time_s, signature = (_get(headers, h) for h in HEADERS)
    if not time_s.isdigit() or len(time_s) > 12:
        raise SignatureError("X-Idp-Time is malformed")
    message = _canonical(time_s, sub, name, acr, amr) if _ascii(time_s, sub, name, acr,
                                                                 amr) else b""
    if not message or not any(hmac.compare_digest(_mac(k, message), signature)
                               for k in key_list):
        raise SignatureError("bad signature")
    current = time.time() if now is None else now
    signed_at = int(time_s)
    if signed_at < current - max_age:
        raise SignatureError("signature expired")
    if signed_at > current + skew:
        raise SignatureError("signature from the future")
    if not sub:
        raise SignatureError("X-Idp-Sub is empty")
    return Identity(sub=sub, name=unquote(name, errors="strict"), acr=acr,
                    amr=tuple(amr.split()), signed_at=signed_at)


def _ascii(*values: str) -> bool:
    return all(v.isascii() and "\n" not in v for v in values)
