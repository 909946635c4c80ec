"""Token introspection (RFC 7662) for access and refresh tokens.

A client may introspect the tokens issued to it. ``active`` is false for anything
expired, revoked, listed on the revocation list, or whose person has been banned or had
their password reset since (``security_epoch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint

from idp.accounts.models import Person
from idp.oidc import refresh
from idp.oidc.client_auth import CONFIDENTIAL_METHODS
from idp.oidc.models import RefreshToken
from idp.oidc.tokens import VerifiedAccessToken
from idp.oidc.userinfo import live_person_snapshot


@dataclass
class Introspected:
    """A token found by `query_token`, shaped as authlib's endpoint expects."""

    client_id: str
    active: bool
    payload: dict[str, Any]

    def check_client(self, client: Any) -> bool:
        return bool(self.client_id == client.client_id)

    def is_expired(self) -> bool:
        return not self.active

    def is_revoked(self) -> bool:
        return not self.active


class IntrospectionEndpoint(_IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CONFIDENTIAL_METHODS

    def query_token(self, token_string, token_type_hint):  # type: ignore[no-untyped-def]
        server = self.server
        if not isinstance(token_string, str):
            return None
        if token_string.count(".") == 2:
            verified = server.verifier.verify(token_string)
            return self._access(verified) if verified else None
        row = refresh.find(server.db(), server.settings.secret_key, token_string)
        return self._refresh(row) if row else None

    def _access(self, verified: VerifiedAccessToken) -> Introspected:
        claims = verified.claims
        active = (verified.person_id is None
                  or live_person_snapshot(self.server.db(), verified) is not None)
        payload = {k: claims[k] for k in ("scope", "client_id", "sub", "aud", "iss", "exp",
                                          "iat", "jti", "acr", "auth_time", "sid")
                   if k in claims}
        payload["token_type"] = "Bearer"
        return Introspected(str(claims.get("client_id", "")), active, payload)

    def _refresh(self, row: RefreshToken) -> Introspected:
        server = self.server
        person = server.db().get(Person, row.person_id)
        client = server.query_client(row.client_id)
        active = (refresh.is_live(row) and person is not None and client is not None
                  and person.is_active and person.security_epoch == row.epoch)
        payload: dict[str, Any] = {
            "scope": row.scope, "client_id": row.client_id, "token_type": "refresh_token",
            "iss": server.settings.issuer, "exp": int(row.expires_at.timestamp()),
            "iat": int(row.issued_at.timestamp())}
        if active:
            payload["sub"] = server.subject(client, person)
        return Introspected(row.client_id, active, payload)

    def check_permission(self, token, client, request) -> bool:  # type: ignore[no-untyped-def]
        return bool(token.check_client(client))

    def introspect_token(self, token: Introspected) -> dict[str, Any]:
        return {"active": True, **token.payload}
