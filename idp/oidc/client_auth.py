"""Client authentication at the token, introspection and revocation endpoints.

``client_secret_basic`` and ``client_secret_post`` are authlib's (RFC 6749 §2.3.1); the
secret check is `Client.check_client_secret`, a keyed HMAC digest compared in constant
time — client secrets are 256-bit random values, so a slow hash would only cost CPU on
every token request. ``private_key_jwt`` (OIDC Core §9, RFC 7523 §2.2) verifies an
assertion signed with a key from the client's registered JWKS; each ``jti`` is accepted
once (Store).
"""

from __future__ import annotations

import time

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.oidc.models import Client
from idp.store import Store

ALL_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
CONFIDENTIAL_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
_MAX_JTI_TTL = 3600


class PrivateKeyJwt(JWTBearerClientAssertion):
    """``private_key_jwt``: RFC 7523 client assertions checked against the client's JWKS."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, store: Store, issuer: str) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self._store = store
        self._issuer = issuer

    def get_audiences(self) -> list[str]:
        # OIDC Core §9: the audience SHOULD be the token endpoint URL; the issuer is accepted
        # as well (RFC 7523 §3, and what several client libraries send).
        base = self._issuer.rstrip("/")
        return [f"{base}/token", base, f"{base}/introspect", f"{base}/revoke"]

    def validate_jti(self, claims, jti):  # type: ignore[no-untyped-def]
        if not isinstance(jti, str) or not jti or len(jti) > 200:
            return False
        exp = claims.get("exp")
        ttl = int(exp - time.time()) + 60 if isinstance(exp, int) else _MAX_JTI_TTL
        ttl = max(60, min(ttl, _MAX_JTI_TTL))
        return self._store.add(f"oidc-jti:{claims['sub']}:{jti}", "1", ttl)

    def resolve_client_public_key(self, client: Client) -> KeySet:
        if not client.jwks:
            raise InvalidClientError(description="The client has no registered keys.")
        try:
            return KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidClientError(description="The client's keys are unusable.") from exc
