"""The authorization code grant with OpenID Connect (OIDC Core §3.1, RFC 6749 §4.1).

Registered as ``server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(),
OpenIDCode(server), RefuseRequestObjects()])``: authlib validates, these subclasses supply
storage (codes.py), users and keys.
"""

from __future__ import annotations

import logging
import secrets
import string
import time
from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oidc.core import grants as oidc_grants
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from authlib.oidc.core.grants.util import create_half_hash
from sqlalchemy.orm import Session

from idp.accounts.sessions import public_sid
from idp.audit import service as audit
from idp.oidc import acting, code_driver, person_cache, refresh
from idp.oidc.client_auth import ALL_METHODS
from idp.oidc.codes import AuthorizationCode
from idp.oidc.compact import Signer
from idp.oidc.person_cache import PersonSnapshot
from idp.oidc.tokens import AuthorizedPerson

log = logging.getLogger(__name__)


def read_person(session: Session, person_id: int) -> PersonSnapshot | None:
    """The person as the flow needs it (status, security epoch, subject, level), read fresh
    on every request like ``session.get``: status and security epoch decide whether a
    session or code still holds. Through `person_cache.load`'s prebuilt Core select of the
    nine columns a person copy holds rather than all seventeen — psycopg describes, and
    SQLAlchemy processes, every column of every row read (≈ 60–100 µs less per read,
    bench/README.md round 7). Read-only: a snapshot, never attached to the session."""
    return person_cache.load(session, person_id)


# What authlib's `generate_token` draws a code from: 48 letters and digits (≈ 286 bits).
_CODE_ALPHABET = string.ascii_letters + string.digits
_CODE_LENGTH = 48
# Bytes below this limit map onto the 62 characters without bias (248 = 4 × 62).
_UNBIASED_LIMIT = 256 - 256 % len(_CODE_ALPHABET)


def new_code() -> str:
    """An authorization code as authlib draws one (RFC 6749 §10.10: unguessable), from one
    read of the system's CSPRNG instead of one per character (`random.SystemRandom.choice`
    48 times: ≈ 5 % of the resume's CPU, bench/README.md round 6). Rejection sampling
    keeps every character uniform."""
    chars: list[str] = []
    while len(chars) < _CODE_LENGTH:
        chars += [_CODE_ALPHABET[b % len(_CODE_ALPHABET)]
                  for b in secrets.token_bytes(_CODE_LENGTH + 8) if b < _UNBIASED_LIMIT]
    return "".join(chars[:_CODE_LENGTH])


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_METHODS
    # PostgreSQL: this redemption's driver connection (code_driver.py); None: the session's
    # path. authlib makes a grant per request.
    _driver: Any = None

    def generate_authorization_code(self) -> str:
        return new_code()

    def save_authorization_code(self, code: str, request) -> None:  # type: ignore[no-untyped-def]
        user: AuthorizedPerson = request.user
        data = request.payload.data
        # Queued with the request's other Store writes when authorize.py collects them.
        writes = getattr(self.server, "writes", None)
        self.server.codes.save(code, AuthorizationCode(
            client_id=request.client.client_id, redirect_uri=request.payload.redirect_uri,
            scope=request.scope, person_id=user.person.id,
            epoch=user.person.security_epoch, sid=user.sid, auth_time=user.auth_time,
            acr=user.acr, amr=list(user.amr), nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            acting=user.acting.ref.dump() if user.acting is not None else None), writes)

    def query_authorization_code(self, code, client):  # type: ignore[no-untyped-def]
        redeemed = self.server.codes.redeem(code, client.client_id)
        if redeemed.reused is not None:
            self._reuse_detected(redeemed.reused)
            return None
        found = redeemed.code
        return found if found is not None and found.client_id == client.client_id else None

    def _reuse_detected(self, reused: dict[str, str]) -> None:
        """RFC 6749 §4.1.2: revoke every token issued from a code presented twice."""
        server = self.server
        refresh.revoke_family(server.db(), server.revoked, reused["gid"])
        audit.record(server.db(), actor=f"client:{reused.get('client_id', '')}",
                     action="oidc:code:reuse", outcome="failure", address=server.remote_addr(),
                     details={"grant": reused["gid"][:8]})
        log.warning("authorization code reuse: grant revoked client=%s",
                    reused.get("client_id"))

    def delete_authorization_code(self, authorization_code) -> None:  # type: ignore[no-untyped-def]
        """Nothing to do: `CodeStore.redeem` already consumed the code."""

    def create_token_response(self):  # type: ignore[no-untyped-def]
        """authlib's, on PostgreSQL in two statements on the driver where `code_driver`
        applies (issue 2 performance): the person read, then the refresh token and audit
        record written together — once the response is complete, ID token included, as
        the session's commit would come after it."""
        server, request = self.server, self.request
        database = server.platform.db
        if not code_driver.applies(database, request.authorization_code, request.client):
            return super().create_token_response()
        with database.autocommit_driver() as connection:
            self._driver = connection
            try:
                response = super().create_token_response()  # `save_token` left the writes
                token, client, user = response[1], request.client, request.user
                address = server.remote_addr()
                written = code_driver.store_and_record(connection, server, token, client,
                                                       user, address)
            finally:
                self._driver = None  # back in the pool: no later use through this grant
        if not written:  # no audit head yet: as before, with the driver's connection returned
            server.record_issue(server.db(), token, client, code_driver.GRANT_TYPE, user,
                                address)
        return response

    def save_token(self, token):  # type: ignore[no-untyped-def]
        """The session's path (`server.save_token`); on the driver, `create_token_response`
        writes once the response is complete."""
        if self._driver is None:
            super().save_token(token)

    def authenticate_user(self, authorization_code: AuthorizationCode):  # type: ignore[no-untyped-def]
        person = read_person(self.server.db(), authorization_code.person_id) \
            if self._driver is None \
            else code_driver.read_person(self._driver, authorization_code.person_id)
        if person is None or not person.is_active:
            return None
        if person.security_epoch != authorization_code.epoch:
            return None  # banned or password reset between authorization and redemption
        live = None
        if authorization_code.acting is not None:  # recomputed now (issue 4 item 5)
            live = acting.resolve(self.server.db(), person.id, authorization_code.acting,
                                  self.request.client, self.server.settings.secret_key)
            if live is None:
                return None  # invalid_grant: the authority ended since the code was issued
        return AuthorizedPerson(person, authorization_code.sid, authorization_code.auth_time,
                                authorization_code.acr, list(authorization_code.amr),
                                gid=authorization_code.gid,
                                sub=self.server.subject(self.request.client, person),
                                acting=live)

    def generate_token(self, user=None, scope=None, grant_type=None,  # type: ignore[no-untyped-def]
                       expires_in=None, include_refresh_token=True):
        # A refresh token only for offline access that was asked for and granted (§11).
        include = include_refresh_token and "offline_access" in (scope or "").split()
        return super().generate_token(user, scope, grant_type, expires_in, include)


class OpenIDCode(oidc_grants.OpenIDCode):
    """ID tokens signed with the node's key for the client's algorithm (OIDC Core §2)."""

    def __init__(self, server: Any) -> None:
        super().__init__(require_nonce=False)
        self.server = server

    def exists_nonce(self, nonce, request) -> bool:  # type: ignore[no-untyped-def]
        # Codes are single use and bound to the client; replay is the RP's check (§3.1.3.7).
        return False

    def get_client_algorithm(self, client) -> str:  # type: ignore[no-untyped-def]
        return str(client.id_token_signed_response_alg or self.server.keys.default_alg)

    def resolve_client_private_key(self, client):  # type: ignore[no-untyped-def]
        return self.server.keys.signer(self.get_client_algorithm(client))

    def get_encode_header(self, client) -> dict[str, str]:  # type: ignore[no-untyped-def]
        key = self.resolve_client_private_key(client)
        return {"alg": self.get_client_algorithm(client), "kid": key.kid, "typ": "JWT"}

    def get_client_claims(self, client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        now = int(time.time())
        return {"iss": self.server.settings.issuer, "aud": client.client_id, "iat": now,
                "exp": now + self.server.settings.id_token_ttl}

    def encode_id_token(self, token, request):  # type: ignore[no-untyped-def]
        """authlib's `OpenIDToken.encode_id_token` (the same claims, in the same order),
        signed by compact.py like the access token: joserfc's generic JWT encoding cost
        about as much again as the signature (bench/README.md, round 6). The header is
        `get_encode_header`'s three parameters."""
        signer = self._compact_signer(request.client)
        if signer is None:
            return super().encode_id_token(token, request)
        claims = self.get_compatible_claims(request)
        if request.authorization_code:
            claims.update(self.get_authorization_code_claims(request.authorization_code))
        access_token = token.get("access_token")
        if access_token:
            at_hash = create_half_hash(access_token, signer.alg)
            if at_hash is not None:
                claims["at_hash"] = at_hash.decode("utf-8")
        claims.update(self.generate_user_info(request.user, token["scope"]))
        return signer.sign("JWT", claims)

    def _compact_signer(self, client) -> Signer | None:  # type: ignore[no-untyped-def]
        """The compact.py signer of the client's ID token algorithm, or None when the
        key ring has none for it (authlib's path then decides, as before)."""
        alg = self.get_client_algorithm(client)
        compact_signer = getattr(self.server.keys, "compact_signer", None)
        if compact_signer is None or alg not in ("ES256", "RS256"):
            return None
        return compact_signer(alg)  # type: ignore[no-any-return]

    def get_authorization_code_claims(self, authorization_code):  # type: ignore[no-untyped-def]
        claims = super().get_authorization_code_claims(authorization_code)
        if authorization_code.sid:  # OIDC Back-Channel Logout §2.1
            claims["sid"] = public_sid(self.server.settings.secret_key, authorization_code.sid)
        return claims

    def process_token(self, grant, response):  # type: ignore[no-untyped-def]
        token = super().process_token(grant, response)
        if "id_token" in token and getattr(grant.request.client, "federation_peer", False):
            # A peer node got an ID token: it subscribes to the person's status (issue 6).
            from idp.federation.peer_clients import record_issue

            user: AuthorizedPerson = grant.request.user
            record_issue(self.server.platform, self.server.db(), grant.request.client,
                         user.person, user.sub, user.sid)
        return token

    def generate_user_info(self, user: AuthorizedPerson, scope: str) -> dict[str, Any]:
        # Identity claims are served by userinfo (OIDC Core §5.4); the ID token names the
        # subject only, keeping personal data out of browser-visible tokens. Acting for a
        # legal person is not personal data: the client needs it to open the right account.
        if user.acting is None:
            return {"sub": user.sub}
        return {"sub": user.sub, **user.acting.claims}


class RefuseRequestObjects:
    """Refuse request objects (OIDC Core §6): ``request_not_supported``."""

    def __call__(self, grant) -> None:  # type: ignore[no-untyped-def]
        grant.register_hook("after_validate_authorization_request_payload", self.refuse)

    @staticmethod
    def refuse(grant, redirect_uri) -> None:  # type: ignore[no-untyped-def]
        data = grant.request.payload.data
        if data.get("request") is not None:
            raise RequestNotSupportedError(redirect_uri=redirect_uri)
        if data.get("request_uri") is not None:
            raise RequestURINotSupportedError(redirect_uri=redirect_uri)
