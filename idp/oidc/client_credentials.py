"""The client credentials grant (RFC 6749 §4.4) for department back-ends.

The hot path of machine-to-machine calls: one client read, one HMAC, one signature; no
database write (issuance is logged, not audited — see server.IdpAuthorizationServer).
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import InvalidScopeError, grants

from idp.oidc.client_auth import CONFIDENTIAL_METHODS

# Scopes that describe a person make no sense without one.
PERSON_SCOPES = {"openid", "profile", "phone", "realname", "idcard", "offline_access"}


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_METHODS

    def validate_token_request(self):  # type: ignore[no-untyped-def]
        super().validate_token_request()
        requested = (self.request.payload.scope or "").split()
        if set(requested) & PERSON_SCOPES:
            raise InvalidScopeError("Person scopes need a person: use the code flow.")
        if not set(requested) <= self.request.client.scope_set:
            raise InvalidScopeError()
