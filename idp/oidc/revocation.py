"""Token revocation (RFC 7009).

Revoking an access token lists its ``jti``; revoking a refresh token revokes its whole
grant — the refresh family and the access tokens carrying its ``gid`` (§2.1: "the
authorization server SHOULD also invalidate all access tokens based on the same
authorization grant"). Unknown or already-dead tokens answer 200 as well (§2.2).

Tokens obtained by exchange (RFC 8693) list the ``jti`` of the token they were exchanged
from in ``parent_jti`` (revoked.py), so revoking a subject access token revokes every token
exchanged from it too. An exchanged token (an opaque reference token) may be revoked by
the requester that holds it or by its audience, the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint

from idp.audit import service as audit
from idp.oidc import refresh
from idp.oidc.client_auth import ALL_METHODS
from idp.oidc.reference import is_handle


@dataclass
class Revocable:
    kind: str  # "access_token" or "refresh_token"
    client_id: str
    jti: str = ""
    family_id: str = ""
    handle: str = ""  # an exchanged token's reference (reference.py)
    audience: str = ""  # an exchanged token's target, which may revoke it as well

    def check_client(self, client: Any) -> bool:
        return client.client_id in (self.client_id, self.audience or self.client_id)


class RevocationEndpoint(_RevocationEndpoint):
    CLIENT_AUTH_METHODS = ALL_METHODS

    def query_token(self, token_string, token_type_hint):  # type: ignore[no-untyped-def]
        server = self.server
        if not isinstance(token_string, str):
            return None
        handle = is_handle(token_string)
        if token_string.count(".") == 2 or handle:
            verified = server.verifier.verify(token_string)
            if verified is None:
                return None
            claims = verified.claims
            return Revocable("access_token", str(claims.get("client_id", "")),
                             jti=str(claims.get("jti", "")),
                             handle=token_string if handle else "",
                             audience=str(claims.get("aud", "")) if handle else "")
        row = refresh.find(server.db(), server.settings.secret_key, token_string)
        if row is None or row.revoked_at is not None:
            return None
        return Revocable("refresh_token", row.client_id, family_id=row.family_id)

    def revoke_token(self, token: Revocable, request) -> None:  # type: ignore[no-untyped-def]
        server = self.server
        if token.kind == "access_token":
            server.revoked.revoke("jti", token.jti)  # and, by parent_jti, its exchanges
            if token.handle:
                server.references.forget(token.handle)
        else:
            refresh.revoke_family(server.db(), server.revoked, token.family_id)
        audit.record(server.db(), actor=f"client:{token.client_id}", action="oidc:token:revoke",
                     address=server.remote_addr(), details={"kind": token.kind})
