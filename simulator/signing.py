"""Verification of signed authority requests (docs/authorities.md, "Signing").

Written independently of the platform's client (idp/realname/sources/signing.py) on purpose:
the two sides meet only in the documented contract, so a mistake on one side shows in tests.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from simulator.state import NonceCache

MAX_SKEW = 300  # seconds either side of our clock


class SignatureError(Exception):
    """The request is not properly signed; ``code`` is the contract's error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def expected_signature(key: bytes, method: str, path: str, timestamp: str, nonce: str,
                       body: bytes) -> str:
    canonical = f"{method}\n{path}\n{timestamp}\n{nonce}\n{hashlib.sha256(body).hexdigest()}"
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def verify(headers: Mapping[str, str], method: str, path: str, body: bytes,
           clients: Mapping[str, bytes], nonces: NonceCache, now: float | None = None) -> str:
    """Check client, timestamp window, signature and nonce; return the client id."""
    now = time.time() if now is None else now
    client_id = headers.get("X-Client-Id", "")
    timestamp = headers.get("X-Timestamp", "")
    nonce = headers.get("X-Nonce", "")
    signature = headers.get("X-Signature", "")
    if not (client_id and timestamp and nonce and signature):
        raise SignatureError("missing_signature")
    key = clients.get(client_id)
    if key is None:
        raise SignatureError("unknown_client")
    if not timestamp.isdigit() or abs(int(timestamp) - now) > MAX_SKEW:
        raise SignatureError("stale_timestamp")
    if len(nonce) < 16 or len(nonce) > 64:
        raise SignatureError("bad_nonce")
    wanted = expected_signature(key, method, path, timestamp, nonce, body)
    if not hmac.compare_digest(wanted, signature.lower()):
        raise SignatureError("bad_signature")
    # Only a correctly signed request may burn a nonce, so nobody can pre-empt ours.
    if not nonces.add(f"{client_id}:{nonce}", now):
        raise SignatureError("replayed_nonce")
    return client_id
