"""Authorization codes in the Store: single use, short-lived, bound to client and redirect.

RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server
MUST deny the request and SHOULD revoke (when possible) all tokens previously issued based
on that authorization code." A code is taken with `Store.pop` (whoever pops first wins) and
leaves a marker naming the grant id (``gid``) its tokens carry; a second redemption finds
the marker and revokes that grant. The code itself is never stored in clear: the Store key
is its keyed digest.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from idp.crypto import keyed_digest, random_token
from idp.store import Store, get_json, pop_json, set_json

USED_MARKER_TTL = 24 * 3600  # how long a reuse can still revoke the grant


@dataclass
class AuthorizationCode:
    """What a code stands for; implements authlib's OIDC ``AuthorizationCodeMixin``."""

    client_id: str
    redirect_uri: str
    scope: str
    person_id: int
    epoch: int
    sid: str | None
    auth_time: int
    acr: str
    amr: list[str] = field(default_factory=list)
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    gid: str = field(default_factory=lambda: random_token(18))
    # The legal person this authorization acts for (idp/oidc/acting.py `ActingRef`), or None.
    acting: dict[str, Any] | None = None
    issued_at: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str:
        return self.acr

    def get_amr(self) -> list[str]:
        return self.amr


class CodeStore:
    def __init__(self, store: Store, secret_key: str, ttl: int) -> None:
        self._store = store
        self._secret = secret_key
        self.ttl = ttl

    def _digest(self, code: str) -> str:
        return keyed_digest(self._secret, f"code\x00{code}")

    def save(self, code: str, data: AuthorizationCode) -> None:
        set_json(self._store, f"oidc-code:{self._digest(code)}", asdict(data), self.ttl)

    def take(self, code: str) -> AuthorizationCode | None:
        """Redeem ``code`` once; later attempts find only the used-marker (`reused_grant`)."""
        if not isinstance(code, str) or not code or len(code) > 128:
            return None
        digest = self._digest(code)
        data = pop_json(self._store, f"oidc-code:{digest}")
        if data is None:
            return None
        found = AuthorizationCode(**data)
        set_json(self._store, f"oidc-code-used:{digest}",
                 {"gid": found.gid, "client_id": found.client_id}, USED_MARKER_TTL)
        if found.issued_at + self.ttl < time.time():
            return None
        return found

    def reused_grant(self, code: str) -> dict[str, str] | None:
        """The grant a code already redeemed belongs to, or None for an unknown code."""
        if not isinstance(code, str) or not code or len(code) > 128:
            return None
        found = get_json(self._store, f"oidc-code-used:{self._digest(code)}")
        return found if isinstance(found, dict) else None
