"""Node-to-node authentication with ``private_key_jwt`` (RFC 7523 §2.2, §3; OIDC Core §9).

The calling node signs a short-lived client assertion with its federation key; the called
node resolves the caller's trust chain (no per-peer configuration) and verifies the
assertion with the keys the caller's superior vouches for. The audience is the exact
endpoint URL called, so an assertion cannot be replayed at another endpoint or node, and
each ``jti`` is accepted once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from idp.crypto import random_token
from idp.federation import entity
from idp.federation.entity import StatementError
from idp.federation.trust import TrustChain, TrustError, TrustResolver
from idp.store import Store

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 60
MAX_LIFETIME = 300  # refuse assertions valid longer than this (limits replay windows)


class PeerAuthError(Exception):
    """The calling node could not be authenticated (reason in the message)."""


def create_assertion(signer: ECKey, entity_id: str, audience: str,
                     now: float | None = None) -> str:
    """A client assertion from ``entity_id`` for one call to ``audience`` (RFC 7523 §3)."""
    iat = int(time.time() if now is None else now)
    claims = {"iss": entity_id, "sub": entity_id, "aud": audience, "jti": random_token(18),
              "iat": iat, "exp": iat + ASSERTION_LIFETIME}
    return jwt.encode({"alg": "ES256", "kid": signer.kid, "typ": "JWT"}, claims, signer)


def _claims(token: object) -> tuple[dict[str, object], dict[str, object]]:
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 8192:
        raise PeerAuthError("malformed client assertion")
    try:
        header_part, claims_part, _ = token.split(".")
        return entity._b64json(header_part), entity._b64json(claims_part)
    except ValueError as exc:
        raise PeerAuthError("malformed client assertion") from exc


def _check_claims(claims: dict[str, object], audience: str, now: float) -> str:
    iss = claims.get("iss")
    if not isinstance(iss, str) or claims.get("sub") != iss:
        raise PeerAuthError("iss and sub must name the calling node")
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise PeerAuthError("client assertion is for another audience")
    exp, iat, jti = claims.get("exp"), claims.get("iat"), claims.get("jti")
    if type(exp) is not int or type(iat) is not int:
        raise PeerAuthError("exp and iat are required")
    if exp <= now - entity.LEEWAY or iat > now + entity.LEEWAY:
        raise PeerAuthError("client assertion expired or not yet valid")
    if exp - iat > MAX_LIFETIME:
        raise PeerAuthError("client assertion lives too long")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 200:
        raise PeerAuthError("jti is required")
    return iss


def verify_assertion(token: object, audience: str, resolver: TrustResolver, store: Store,
                     clock: Callable[[], float] = time.time) -> TrustChain:
    """Authenticate the caller; return its trust chain (RFC 7523 §3 checks, then OIDF)."""
    now = clock()
    header, claims = _claims(token)
    iss = _check_claims(claims, audience, now)  # cheap checks before any network call
    try:
        chain = resolver.resolve(iss)
        keys = entity.import_jwks(chain.jwks)
    except (TrustError, StatementError) as exc:
        raise PeerAuthError(f"caller not trusted: {exc}") from exc
    if header.get("alg") != "ES256" or not any(k.kid == header.get("kid") for k in keys.keys):
        raise PeerAuthError("client assertion signed by a key the federation does not vouch for")
    try:
        jwt.decode(token, keys, algorithms=entity.ALGORITHMS)  # type: ignore[arg-type]
    except (JoseError, ValueError) as exc:
        raise PeerAuthError("bad client assertion signature") from exc
    ttl = max(1, int(claims["exp"]) - int(now) + entity.LEEWAY)  # type: ignore[call-overload]
    marker = f"fed:jti:{hashlib.sha256(iss.encode()).hexdigest()[:32]}:{claims['jti']}"
    if not store.add(marker, "1", ttl):
        raise PeerAuthError("client assertion replayed")
    return chain
