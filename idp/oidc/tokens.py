"""Access tokens as JWTs (RFC 9068) and their verification; the authorized person.

Access tokens carry, besides the RFC 9068 claims, a private ``ctx`` claim: the person's
database id and ``security_epoch`` at issue, encrypted with the node's data key so relying
parties learn nothing (a bare id would link pairwise subjects). Userinfo and introspection
decrypt it and compare the epoch with the person's current one (`idp.oidc.person_cache`: a
copy checked against the person's version, read with the revocation list, else one indexed
read), so a ban or a password reset refuses every outstanding token at
once without any revocation entry.
"""

from __future__ import annotations

import binascii
import json
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6750 import BearerTokenGenerator
from joserfc import jwt
from joserfc.errors import JoseError

from idp.accounts import versions
from idp.accounts.models import Person
from idp.accounts.sessions import public_sid
from idp.crypto import DataProtector, DecryptionError
from idp.oidc import compact
from idp.oidc.keys import SUPPORTED_ALGS, KeyRing
from idp.oidc.models import Client
from idp.oidc.reference import ReferenceTokens, is_handle
from idp.oidc.revoked import RevocationList
from idp.oidc.subject import subject_for

if TYPE_CHECKING:
    from idp.oidc.acting import Acting

MAX_TOKEN_LENGTH = 4096
_SEEN_MAX = 2048  # verified signatures remembered per process (≈ 2 KiB each)
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
    acting: Acting | None = None  # acting for a legal person (issue 4 item 5, acting.py)

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
            "client_id": client.client_id, "jti": secrets.token_urlsafe(16), "scope": scope,
        }
        if user is None:
            claims["sub"] = client.client_id
        else:
            claims["sub"] = user.sub or subject_for(client, user.person.sub, self.secret_key)
            claims.update(auth_time=user.auth_time, acr=user.acr, amr=user.amr, gid=user.gid)
            if user.sid:
                claims["sid"] = public_sid(self.secret_key, user.sid)
            claims["ctx"] = self.protector.encrypt(
                f"{user.person.id}:{user.person.security_epoch}", _CTX)
            if user.acting is not None:  # issue 4 item 5: org + authority, and `actx`
                from idp.oidc.acting import seal

                claims.update(user.acting.claims)
                claims["actx"] = seal(self.protector, user.acting.ref)
        # compact.py: the header is ours, so the direct path signs exactly what joserfc would.
        return self.keys.compact_signer().sign("at+jwt", claims)


@dataclass(frozen=True)
class VerifiedAccessToken:
    claims: dict[str, Any]
    person_id: int | None
    epoch: int | None
    # The person's versions (idp.accounts.versions), when read along with the revocation list.
    person_versions: list[str | None] | None = None

    @property
    def scope(self) -> list[str]:
        scope = self.claims.get("scope")
        return scope.split() if isinstance(scope, str) else []


class AccessTokenVerifier:
    """Check signature, type, issuer, lifetime and the revocation list of an access token;
    an opaque reference token (exchange, `idp.oidc.reference`) is looked up instead of
    decoded, then checked the same way."""

    def __init__(self, issuer: str, keys: KeyRing, protector: DataProtector,
                 revoked: RevocationList, references: ReferenceTokens | None = None) -> None:
        self.issuer = issuer
        self.keys = keys
        self.protector = protector
        self.revoked = revoked
        self.references = references
        # token -> (kid, the key that verified it, header, claims); see `_decode`.
        self._seen: dict[str, tuple[str, Any, dict[str, Any], dict[str, Any]]] = {}

    def verify(self, token: str, with_person_version: bool = False
               ) -> VerifiedAccessToken | None:
        """The token's claims, or None for anything not a live access token of ours.

        ``with_person_version`` also reads the person's versions (`idp.accounts.versions`,
        for `idp.oidc.person_cache`) with the revocation list — watched keys, so usually
        from memory, else in the same Store round trip — for a caller that will look the
        person up next.
        """
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        if is_handle(token):
            found = self.references.claims(token) if self.references is not None else None
            if found is None:
                return None
            claims = found
        else:
            decoded = self._decode(token) if token.count(".") == 2 else None
            if decoded is None or decoded[0].get("typ") != "at+jwt":
                return None
            claims = decoded[1]
        if claims.get("iss") != self.issuer:
            return None
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= time.time():
            return None
        # The person first (``ctx``, no I/O), so their version keys join the one round trip.
        verified = self._with_context(claims)
        if verified is None:
            return None
        extra = versions.keys(verified.person_id) \
            if with_person_version and verified.person_id is not None else []
        revoked, extra_values = self.revoked.check(claims, extra)
        if revoked:
            return None
        return replace(verified, person_versions=extra_values) if extra else verified

    def _decode(self, token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Header and claims if the signature is good: compact.py for tokens of the shape we
        issue, joserfc for anything else (same verdicts, a third of the cost).

        A token whose signature compact.py has checked is remembered with the key that
        checked it (`_seen`): the same token again, while that very key is still published,
        skips the ECDSA verification (≈ 70 µs, a fifth of a userinfo request; resource
        servers present one access token many times). Lifetime, issuer and revocation are
        checked on every request as before (`verify`); a key withdrawn or reloaded means
        verifying afresh.
        """
        seen = self._seen.get(token)
        if seen is not None:
            kid, key, header, claims = seen
            if self.keys.verifiers(None).get(kid) is key:
                return dict(header), dict(claims)
        try:
            kid = json.loads(compact.unb64(token.split(".", 1)[0])).get("kid")
        # RecursionError: a deeply nested JSON header is bad input, not a fault (a 500).
        except (ValueError, binascii.Error, UnicodeError, AttributeError, RecursionError):
            kid = None
        verifiers = self.keys.verifiers(kid if isinstance(kid, str) else None)
        fast = compact.verify(token, verifiers)
        if isinstance(fast, compact.Verified):
            if len(self._seen) >= _SEEN_MAX:
                self._seen.clear()  # a burst of distinct tokens: start over, stay bounded
            kid = fast.header["kid"]
            self._seen[token] = (kid, verifiers.get(kid), dict(fast.header), dict(fast.claims))
            return fast.header, fast.claims
        if fast is None:
            return None
        try:
            decoded = jwt.decode(token, self.keys.public_keys(kid if isinstance(kid, str)
                                                             else None),
                                 algorithms=list(SUPPORTED_ALGS))
        except (JoseError, ValueError, UnicodeError, TypeError, RecursionError):
            return None
        return decoded.header, decoded.claims

    def _with_context(self, claims: dict[str, Any]) -> VerifiedAccessToken | None:
        ctx = claims.get("ctx")
        if ctx is None:
            return VerifiedAccessToken(claims, None, None)
        try:
            pid, epoch = self.protector.decrypt(str(ctx), _CTX).split(":")
            return VerifiedAccessToken(claims, int(pid), int(epoch))
        except (DecryptionError, ValueError):
            return None
