"""Validate an OIDC Back-Channel Logout token (OIDC Back-Channel Logout 1.0 §2.4, §2.6).

Pure protocol code: no Flask. The caller supplies the OP's JWKS (refetched once when a key
id is unknown, so key rotation at the OP does not break logout) and ends the sessions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
ALGORITHMS = ["ES256", "RS256"]
MAX_TOKEN_AGE = 300  # seconds; a logout token is delivered at once, never minutes later
LEEWAY = 60  # seconds of clock skew tolerated


class LogoutTokenError(ValueError):
    """The logout token is not valid; the RP answers 400 (§2.8)."""


@dataclass(frozen=True)
class LogoutRequest:
    """Whom a valid logout token signs out."""

    sid: str | None
    sub: str | None
    jti: str
    expires: float


def _decode(token: str, load_jwks: Callable[[bool], dict[str, Any]]) -> jwt.Token:
    registry = JWSRegistry(algorithms=ALGORITHMS, strict_check_header=False)
    try:
        try:
            return jwt.decode(token, KeySet.import_key_set(load_jwks(False)), registry=registry)
        except InvalidKeyIdError:
            return jwt.decode(token, KeySet.import_key_set(load_jwks(True)), registry=registry)
    except LogoutTokenError:
        raise
    except (JoseError, ValueError, TypeError) as exc:
        raise LogoutTokenError(f"bad logout token: {type(exc).__name__}") from exc


def _check_times(claims: dict[str, Any], now: float) -> float:
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise LogoutTokenError("iat missing")
    if iat > now + LEEWAY or iat < now - MAX_TOKEN_AGE:
        raise LogoutTokenError("iat out of range")
    exp = claims.get("exp")
    if exp is not None and (not isinstance(exp, int | float) or exp < now - LEEWAY):
        raise LogoutTokenError("token expired")
    return float(exp) if exp is not None else float(iat) + MAX_TOKEN_AGE


def _check_subject(claims: dict[str, Any]) -> tuple[str | None, str | None]:
    sid, sub = claims.get("sid"), claims.get("sub")
    for value in (sid, sub):
        if value is not None and (not isinstance(value, str) or not value):
            raise LogoutTokenError("sid and sub must be non-empty strings")
    if not sid and not sub:
        raise LogoutTokenError("neither sid nor sub")
    return sid, sub


def validate_logout_token(token: str, *, load_jwks: Callable[[bool], dict[str, Any]],
                          issuer: str, client_id: str, now: float | None = None) -> LogoutRequest:
    """Check signature, iss, aud, iat/exp, events, sid/sub, no nonce (§2.6 steps 3–8)."""
    if not isinstance(token, str) or not token or len(token) > 16_384:
        raise LogoutTokenError("logout_token missing or too long")
    if token.count(".") != 2:
        raise LogoutTokenError("logout_token is not a signed JWT")
    decoded = _decode(token, load_jwks)
    typ = decoded.header.get("typ")
    if typ is not None and str(typ).lower() not in ("jwt", "logout+jwt"):
        raise LogoutTokenError("wrong token type")
    claims = decoded.claims
    now = time.time() if now is None else now
    if claims.get("iss") != issuer:
        raise LogoutTokenError("wrong issuer")
    aud = claims.get("aud")
    if not (aud == client_id or (isinstance(aud, list) and client_id in aud)):
        raise LogoutTokenError("wrong audience")
    expires = _check_times(claims, now)
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise LogoutTokenError("events claim lacks the back-channel logout event")
    if "nonce" in claims:
        # §2.4: a nonce is prohibited, so an ID token cannot pass for a logout token.
        raise LogoutTokenError("nonce present")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise LogoutTokenError("jti missing")
    sid, sub = _check_subject(claims)
    return LogoutRequest(sid=sid, sub=sub, jti=jti, expires=expires)
