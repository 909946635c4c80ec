"""Opaque reference access tokens (issue 4 item 6 hardening; RFC 8693 §2.2.1, RFC 7662).

A token obtained by exchange is handed to the *requester* but meant for the *target*. As a
readable JWT it would show the requester the person's pairwise ``sub`` at the target (and
the target-side subjects of the authority chain), defeating pairwise subjects. So exchanged
tokens are random handles; their claims stay in the Store for the token's lifetime and only
the target learns them, by introspection (RFC 7662) or at userinfo.

The Store key is a keyed digest of the handle: a copy of the Store yields no usable token.
The handle has exactly one dot, so it is told apart from a JWT (two) and from a refresh
token (none) without a lookup.
"""

from __future__ import annotations

import json
import time
from typing import Any

from idp.crypto import keyed_digest, random_token
from idp.store import Store

PREFIX = "xat."
_HANDLE_LENGTH = len(PREFIX) + 43  # 32 random bytes, base64url without padding


def is_handle(token: object) -> bool:
    return (isinstance(token, str) and len(token) == _HANDLE_LENGTH
            and token.startswith(PREFIX) and token.count(".") == 1)


class ReferenceTokens:
    """Issue and resolve reference tokens kept in the Store."""

    def __init__(self, store: Store, secret_key: str) -> None:
        self._store = store
        self._secret_key = secret_key

    def _key(self, handle: str) -> str:
        return "oidc-ref:" + keyed_digest(self._secret_key, f"reference\x00{handle}")

    def issue(self, claims: dict[str, Any]) -> str:
        """A new handle for ``claims``, kept until their ``exp``."""
        handle = PREFIX + random_token(32)
        ttl = max(1, int(claims["exp"]) - int(time.time()))
        self._store.set(self._key(handle), json.dumps(claims, separators=(",", ":")), ttl)
        return handle

    def claims(self, handle: str) -> dict[str, Any] | None:
        """The claims behind a handle, or None when unknown or expired."""
        if not is_handle(handle):
            return None
        raw = self._store.get(self._key(handle))
        if raw is None:
            return None
        try:
            found = json.loads(raw)
        except ValueError:
            return None
        return found if isinstance(found, dict) else None

    def forget(self, handle: str) -> None:
        """Drop a revoked handle (its ``jti`` is listed as well; this only frees the entry)."""
        if is_handle(handle):
            self._store.delete(self._key(handle))
