"""``id_token_hint`` at the authorization endpoint (OIDC Core §3.1.2.1).

The hint must be an ID token this node issued (signature and issuer checked; an expired
one is fine) for the requesting client. When its subject differs from the signed-in
person, the person must sign in again — or, with ``prompt=none``, ``login_required``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from joserfc import jws, jwt
from joserfc.errors import JoseError

from idp.accounts.models import Person
from idp.oidc.keys import SUPPORTED_ALGS
from idp.oidc.models import Client

if TYPE_CHECKING:
    from idp.oidc.server import IdpAuthorizationServer

MAX_HINT_LENGTH = 8192


def verify_id_token(server: IdpAuthorizationServer, token: str) -> dict[str, Any]:
    """Claims of an ID token we issued, expiry not checked; InvalidRequestError otherwise."""
    if not isinstance(token, str) or len(token) > MAX_HINT_LENGTH or token.count(".") != 2:
        raise InvalidRequestError("Invalid 'id_token_hint'.")
    try:
        kid = jws.extract_compact(token.encode("ascii")).headers().get("kid")
        decoded = jwt.decode(token, server.keys.public_keys(kid if isinstance(kid, str)
                                                            else None),
                             algorithms=list(SUPPORTED_ALGS))
    except (JoseError, ValueError, UnicodeError, TypeError) as exc:
        raise InvalidRequestError("Invalid 'id_token_hint'.") from exc
    claims = dict(decoded.claims)
    if claims.get("iss") != server.settings.issuer or decoded.header.get("typ") == "at+jwt":
        raise InvalidRequestError("Invalid 'id_token_hint'.")
    return claims


def id_token_hint_mismatch(server: IdpAuthorizationServer, hint: str | None, client: Client,
                           person: Person | None) -> bool:
    """True when a valid hint names someone other than the signed-in person."""
    if not hint:
        return False
    claims = verify_id_token(server, hint)
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client.client_id not in audiences:
        raise InvalidRequestError("'id_token_hint' was issued to another client.")
    if person is None:
        return False
    return claims.get("sub") != server.subject(client, person)
