"""The revocation list for JWT access tokens, kept in the Store (DESIGN.md "Fixed choices").

JWT access tokens (RFC 9068) cannot be recalled, so introspection and userinfo consult this
list: a token dies when its own ``jti`` is listed (RFC 7009 revocation), when its grant
``gid`` is (refresh-token reuse, authorization-code reuse, refresh revocation), or when its
SSO session ``sid`` is (logout). Entries live as long as an access token can, so the list
stays small; the person's ``security_epoch`` (checked against the database) covers bans
and password resets without any entry at all.
"""

from __future__ import annotations

from idp.store import Store

_LEEWAY = 60


class RevocationList:
    def __init__(self, store: Store, access_token_ttl: int) -> None:
        self._store = store
        self._ttl = access_token_ttl + _LEEWAY

    def revoke(self, kind: str, value: str) -> None:
        """List ``kind`` (``jti``, ``gid`` or ``sid``) ``value`` as revoked."""
        if value:
            self._store.set(f"oidc-revoked:{kind}:{value}", "1", self._ttl)

    def is_revoked(self, claims: dict[str, object]) -> bool:
        """True when the token's id, grant or session has been revoked."""
        for kind in ("jti", "gid", "sid"):
            value = claims.get(kind)
            if isinstance(value, str) and value and self._store.get(
                    f"oidc-revoked:{kind}:{value}") is not None:
                return True
        return False
