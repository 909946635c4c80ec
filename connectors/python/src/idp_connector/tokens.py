"""Verify the platform's ID tokens (OIDC Core §3.1.3.7) and logout tokens (Back-Channel
Logout 1.0 §2.6). Pure protocol code: no web framework.

``load_jwks(force)`` returns the platform's JWKS; it is called again with ``force=True`` once
when a key id is unknown, so a key rotation at the platform does not break sign-in or logout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError, MissingKeyError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
ALGORITHMS = ["ES256", "RS256"]
MAX_LOGOUT_TOKEN_AGE = 300  # seconds; a logout token is delivered at once, never minutes later
LEEWAY = 60  # seconds of clock skew tolerated

JwksLoader = Callable[[bool], dict[str, Any]]


class TokenError(ValueError):
    """A token from the platform failed verification; the message says which check."""


class LogoutTokenError(TokenError):
    """The logout token is not valid; the receiver answers 400 (§2.8)."""


@dataclass(frozen=True)
class LogoutRequest:
    """Whom a valid logout token signs out."""

    sid: str | None
    sub: str | None
    jti: str
    expires: float


def decode_signed(token: str, load_jwks: JwksLoader, error: type[TokenError]) -> jwt.Token:
    """Check the JWS signature against the platform's keys (ES256/RS256 only, never none)."""
    if not isinstance(token, str) or not token or len(token) > 16_384 or token.count(".") != 2:
        raise error("not a signed JWT")
    registry = JWSRegistry(algorithms=ALGORITHMS, strict_check_header=False)
    def keys(force: bool) -> KeySet:
        return KeySet.import_key_set(cast(Any, load_jwks(force)))

    try:
        try:
            return jwt.decode(token, keys(False), registry=registry)
        except (InvalidKeyIdError, MissingKeyError):  # unknown kid: the keys rotated
            return jwt.decode(token, keys(True), registry=registry)
    except TokenError:
        raise
    except (JoseError, ValueError, TypeError) as exc:
        raise error(f"bad signature or format: {type(exc).__name__}") from exc


def _check_audience(claims: dict[str, Any], client_id: str, error: type[TokenError]) -> None:
    aud = claims.get("aud")
    if not (aud == client_id or (isinstance(aud, list) and client_id in aud)):
        raise error("wrong audience")
    # OIDC Core §3.1.3.7 step 4-5: with several audiences, azp must name us.
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != client_id:
        raise error("wrong authorized party")


def _number(claims: dict[str, Any], name: str, error: type[TokenError]) -> float:
    value = claims.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise error(f"{name} missing")
    return float(value)


def verify_id_token(token: str, *, load_jwks: JwksLoader, issuer: str, client_id: str,
                    nonce: str, now: float | None = None) -> dict[str, Any]:
    """Return the claims of a valid ID token (OIDC Core §3.1.3.7 steps 1-11)."""
    claims = dict(decode_signed(token, load_jwks, TokenError).claims)
    now = time.time() if now is None else now
    if claims.get("iss") != issuer:
        raise TokenError("wrong issuer")
    _check_audience(claims, client_id, TokenError)
    if _number(claims, "exp", TokenError) < now - LEEWAY:
        raise TokenError("ID token expired")
    if _number(claims, "iat", TokenError) > now + LEEWAY:
        raise TokenError("ID token issued in the future")
    if not nonce or claims.get("nonce") != nonce:
        # §3.1.2.1: the nonce binds the token to this browser's sign-in (no replay).
        raise TokenError("nonce mismatch")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise TokenError("sub missing")
    return claims


def _logout_times(claims: dict[str, Any], now: float) -> float:
    iat = _number(claims, "iat", LogoutTokenError)
    if iat > now + LEEWAY or iat < now - MAX_LOGOUT_TOKEN_AGE:
        raise LogoutTokenError("iat out of range")
    exp = claims.get("exp")
    if exp is not None and (not isinstance(exp, int | float) or exp < now - LEEWAY):
        raise LogoutTokenError("token expired")
    return float(exp) if exp is not None else iat + MAX_LOGOUT_TOKEN_AGE


def _logout_subject(claims: dict[str, Any]) -> tuple[str | None, str | None]:
    sid, sub = claims.get("sid"), claims.get("sub")
    for value in (sid, sub):
        if value is not None and (not isinstance(value, str) or not value):
            raise LogoutTokenError("sid and sub must be non-empty strings")
    if not sid and not sub:
        raise LogoutTokenError("neither sid nor sub")
    return sid, sub


def verify_logout_token(token: str, *, load_jwks: JwksLoader, issuer: str, client_id: str,
                        now: float | None = None) -> LogoutRequest:
    """Check signature, iss, aud, iat/exp, events, sid/sub, no nonce (§2.6 steps 3-8)."""
    decoded = decode_signed(token, load_jwks, LogoutTokenError)
    typ = decoded.header.get("typ")
    if typ is not None and str(typ).lower() not in ("jwt", "logout+jwt"):
        raise LogoutTokenError("wrong token type")
    claims = dict(decoded.claims)
    now = time.time() if now is None else now
    if claims.get("iss") != issuer:
        raise LogoutTokenError("wrong issuer")
    _check_audience(claims, client_id, LogoutTokenError)
    expires = _logout_times(claims, now)
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise LogoutTokenError("events claim lacks the back-channel logout event")
    if "nonce" in claims:
        # §2.4: a nonce is prohibited, so an ID token cannot pass for a logout token.
        raise LogoutTokenError("nonce present")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise LogoutTokenError("jti missing")
    sid, sub = _logout_subject(claims)
    return LogoutRequest(sid=sid, sub=sub, jti=jti, expires=expires)
