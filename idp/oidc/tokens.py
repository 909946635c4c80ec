"""Access tokens as JWTs (RFC 9068) and their verification; the authorized person.

Access tokens carry, besides the RFC 9068 claims, a private ``ctx`` claim: the person's
database id and ``security_epoch`` at issue, encrypted with the node's data key so relying
parties learn nothing (a bare id would link pairwise subjects). Userinfo and introspection
decrypt it and compare the epoch with the database in one indexed read, so a ban or a
password reset refuses every outstanding token at once without any revocation entry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from joserfc import jwt
from joserfc.errors import JoseError

from idp.accounts.models import Person
from idp.crypto import DataProtector, DecryptionError
from idp.oidc.keys import SUPPORTED_ALGS, KeyRing
from idp.oidc.models import Client
from idp.oidc.revoked import RevocationList
from idp.oidc.subject import subject_for

MAX_TOKEN_LENGTH = 4096
_CTX = "oidc.access_token.ctx"


@dataclass
class AuthorizedPerson:
    """The resource owner of a grant, with the facts of the login that authorized it."""

    person: Person
    sid: str | None
    auth_time: int
    acr: str
    amr: list[str] = field(default_factory=list)
    gid: str = ""  # grant id: shared by every token descending from one authorization
    sub: str = ""  # the subject as the client sees it (public or pairwise)

    def get_user_id(self) -> str:
        return self.person.sub


class AccessTokenGenerator(BearerTokenGenerator):
    """Issue RFC 9068 JWT access tokens signed by the node's keys."""

    def __init__(self, issuer: str, keys: KeyRing, protector: DataProtector, secret_key: str,
                 ttl: int, refresh_token_generator: Any) -> None:
        super().__init__(self.access_token, refresh_token_generator, ttl)
        self.issuer = issuer
        self.keys = keys
        self.protector = protector
        self.secret_key = secret_key
        self.ttl = ttl

    def access_token(self, client: Client, grant_type: str, user: AuthorizedPerson | None,
                     scope: str) -> str:
        """RFC 9068 §2.2 claims; ``sub`` is the client's own identifier without a person."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "exp": now + self.ttl, "iat": now, "aud": client.client_id,
            "client_id": client.client_id, "jti": generate_token(22), "scope": scope,
        }
        if user is None:
            claims["sub"] = client.client_id
        else:
            claims["sub"] = user.sub or subject_for(client, user.person.sub, self.secret_key)
            claims.update(auth_time=user.auth_time, acr=user.acr, amr=user.amr, gid=user.gid)
            if user.sid:
                claims["sid"] = user.sid
            claims["ctx"] = self.protector.encrypt(
                f"{user.person.id}:{user.person.security_epoch}", _CTX)
        key = self.keys.signer()
        header = {"alg": self.keys.default_alg, "typ": "at+jwt", "kid": key.kid}
        return jwt.encode(header, claims, key, algorithms=[self.keys.default_alg])


@dataclass(frozen=True)
class VerifiedAccessToken:
    claims: dict[str, Any]
    person_id: int | None
    epoch: int | None

    @property
    def scope(self) -> list[str]:
        scope = self.claims.get("scope")
        return scope.split() if isinstance(scope, str) else []


class AccessTokenVerifier:
    """Check signature, type, issuer, lifetime and the revocation list of an access token."""

    def __init__(self, issuer: str, keys: KeyRing, protector: DataProtector,
                 revoked: RevocationList) -> None:
        self.issuer = issuer
        self.keys = keys
        self.protector = protector
        self.revoked = revoked

    def verify(self, token: str) -> VerifiedAccessToken | None:
        """The token's claims, or None for anything not a live access token of ours."""
        if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            return None
        try:
            from joserfc import jws

            kid = jws.extract_compact(token.encode("ascii")).headers().get("kid")
            decoded = jwt.decode(token, self.keys.public_keys(kid if isinstance(kid, str)
                                                             else None),
                                 algorithms=list(SUPPORTED_ALGS))
        except (JoseError, ValueError, UnicodeError, TypeError):
            return None
        claims = decoded.claims
        if decoded.header.get("typ") != "at+jwt" or claims.get("iss") != self.issuer:
            return None
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= time.time():
            return None
        if self.revoked.is_revoked(claims):
            return None
        return self._with_context(claims)

    def _with_context(self, claims: dict[str, Any]) -> VerifiedAccessToken | None:
        ctx = claims.get("ctx")
        if ctx is None:
            return VerifiedAccessToken(claims, None, None)
        try:
            pid, epoch = self.protector.decrypt(str(ctx), _CTX).split(":")
            return VerifiedAccessToken(claims, int(pid), int(epoch))
        except (DecryptionError, ValueError):
            return None
