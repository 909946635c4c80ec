"""The revocation list for JWT access tokens, kept in the Store (DESIGN.md "Fixed choices").

JWT access tokens (RFC 9068) cannot be recalled, so introspection and userinfo consult this
list: a token dies when its own ``jti`` is listed (RFC 7009 revocation), when its grant
``gid`` is (refresh-token reuse, authorization-code reuse, refresh revocation), when its
SSO session ``sid`` is (logout), or — for a token obtained by exchange (RFC 8693) — when
the ``jti`` of any token it was exchanged from is (``parent_jti``: revoking the subject
token reaches every token exchanged from it, however often re-exchanged). Entries live as
long as an access token can, so the list stays small; the person's status and
``security_epoch`` (`idp.oidc.person_cache`: the process's copy, valid while the person's
version read in this same round trip is unchanged) cover bans and password resets without
any entry at all.
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
            self._store.announce(f"oidc-revoked:{kind}:{value}", "1", self._ttl)

    def keys(self, claims: dict[str, object]) -> list[str]:
        """The Store keys that would list this token's id, grant, session or parents."""
        found = [f"oidc-revoked:{kind}:{value}" for kind in ("jti", "gid", "sid")
                 if isinstance(value := claims.get(kind), str) and value]
        parents = claims.get("parent_jti")
        if isinstance(parents, list):
            found += [f"oidc-revoked:jti:{p}" for p in parents if isinstance(p, str) and p]
        return found

    def is_revoked(self, claims: dict[str, object]) -> bool:
        """True when the token's id, grant or session has been revoked (at most one round
        trip)."""
        return self.check(claims)[0]

    def check(self, claims: dict[str, object], extra: list[str] | None = None
              ) -> tuple[bool, list[str | None]]:
        """`is_revoked`, with the Store keys ``extra`` — watched keys too — read in the same
        round trip, if one is needed."""
        keys = self.keys(claims)
        extra = extra or []
        if not keys and not extra:
            return False, []
        values = self._store.watched_mget(*keys, *extra)
        return any(v is not None for v in values[:len(keys)]), values[len(keys):]
