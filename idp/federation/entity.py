"""Entity statements: build, sign, parse and verify (OpenID Federation 1.0 §3).

An entity configuration is a statement an entity makes about itself (``iss == sub``), served
at ``/.well-known/openid-federation`` (§9). A subordinate statement is one a superior makes
about a child (``iss != sub``), served by the superior's fetch endpoint (§8.1). Both are
JWTs of type ``entity-statement+jwt`` signed with federation keys (§3.1, §3.2).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

STATEMENT_TYP = "entity-statement+jwt"
MEDIA_TYPE = "application/entity-statement+jwt"
WELL_KNOWN = "/.well-known/openid-federation"
FETCH_PATH = "/federation/fetch"
LIST_PATH = "/federation/list"
REGISTER_PATH = "/federation/directory/register"
LOOKUP_PATH = "/federation/directory/lookup"
SET_PATH = "/federation/events"
ALGORITHMS = ["ES256"]
LEEWAY = 30  # seconds of clock skew tolerated between nodes
MAX_TOKEN_BYTES = 64 * 1024


class StatementError(ValueError):
    """A statement is malformed, wrongly signed, expired or otherwise unusable."""


@dataclass(frozen=True)
class EntityStatement:
    """A parsed (not necessarily verified) entity statement."""

    token: str
    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def iss(self) -> str:
        return str(self.claims["iss"])

    @property
    def sub(self) -> str:
        return str(self.claims["sub"])

    @property
    def exp(self) -> int:
        return int(self.claims["exp"])

    @property
    def jwks(self) -> dict[str, Any]:
        return dict(self.claims.get("jwks") or {})

    @property
    def authority_hints(self) -> list[str]:
        return list(self.claims.get("authority_hints") or [])

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.claims.get("metadata") or {})

    @property
    def constraints(self) -> dict[str, Any]:
        return dict(self.claims.get("constraints") or {})

    @property
    def metadata_policy(self) -> dict[str, Any]:
        return dict(self.claims.get("metadata_policy") or {})


def sign_statement(signer: ECKey, claims: dict[str, Any]) -> str:
    """Sign ``claims`` as an entity statement with the node's federation key."""
    header = {"alg": "ES256", "kid": signer.kid, "typ": STATEMENT_TYP}
    return jwt.encode(header, claims, signer)


def _no_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity, which compare false with every time (a SET's
    # ``toe`` of NaN would never be stale). They are not JSON (RFC 8259): refused everywhere.
    raise ValueError(f"{name} is not JSON")


def _b64json(part: str) -> dict[str, Any]:
    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    value = json.loads(raw, parse_constant=_no_constant)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def parse(token: object) -> EntityStatement:
    """Parse without verifying; check the shape every statement must have (§3.1)."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise StatementError("not a compact JWS")
    try:
        header_part, claims_part, _ = token.split(".")
        header, claims = _b64json(header_part), _b64json(claims_part)
    except ValueError as exc:
        raise StatementError("undecodable statement") from exc
    if header.get("typ") != STATEMENT_TYP:
        raise StatementError("typ must be entity-statement+jwt")
    if header.get("alg") not in ALGORITHMS:
        raise StatementError("unsupported signing algorithm")
    for name in ("iss", "sub"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise StatementError(f"{name} missing")
    for name in ("iat", "exp"):
        if type(claims.get(name)) is not int:
            raise StatementError(f"{name} missing or not an integer")
    jwks = claims.get("jwks")
    if jwks is not None and not (isinstance(jwks, dict) and isinstance(jwks.get("keys"), list)):
        raise StatementError("jwks malformed")
    return EntityStatement(token, header, claims)


def import_jwks(jwks: dict[str, Any]) -> KeySet:
    """Import a JWKS, refusing one that is empty or unusable."""
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise StatementError("unusable jwks") from exc
    if not keys.keys:
        raise StatementError("empty jwks")
    return keys


def verify(statement: EntityStatement, jwks: dict[str, Any]) -> None:
    """Verify the signature with one of ``jwks`` (the key chosen by ``kid``)."""
    keys = import_jwks(jwks)
    kid = statement.header.get("kid")
    if not kid or not any(k.kid == kid for k in keys.keys):
        raise StatementError("signed by a key not in the expected jwks")
    try:
        jwt.decode(statement.token, keys, algorithms=ALGORITHMS)
    except (JoseError, ValueError) as exc:
        raise StatementError("bad signature") from exc


def check_times(statement: EntityStatement, now: float | None = None) -> None:
    """Refuse a statement that is expired or issued in the future (§3.1 iat, exp)."""
    now = time.time() if now is None else now
    if statement.exp <= now - LEEWAY:
        raise StatementError(f"statement by {statement.iss} about {statement.sub} expired")
    if int(statement.claims["iat"]) > now + LEEWAY:
        raise StatementError("statement issued in the future")
