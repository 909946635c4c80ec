"""Request signing for the authority contract (docs/authorities.md, "Signing").

The signature covers method, path, timestamp, nonce and the SHA-256 of the body, joined by
newlines so no field can bleed into the next; the nonce makes every request unique so the
authority can refuse replays within its ±300 s window.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """Return the canonical bytes that the HMAC covers."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((method.upper(), path, timestamp, nonce, digest)).encode()


def sign(key: bytes, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """HMAC-SHA256 of the canonical string, lowercase hex."""
    message = string_to_sign(method, path, timestamp, nonce, body)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signed_headers(
    client_id: str, key: bytes, method: str, path: str, body: bytes
) -> dict[str, str]:
    """Build the four signing headers for one request, with a fresh timestamp and nonce."""
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(16)
    return {
        "X-Client-Id": client_id,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": sign(key, method, path, timestamp, nonce, body),
    }
