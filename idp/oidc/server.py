"""The authorization server: authlib's Flask integration wired to our ports (STYLE.md).

One instance per app (``app.extensions["oidc"]``). It holds no per-user state: keys are
cached per process (keys.py), everything else is in the database or the Store. The
database session of the current request is ``flask.g.oidc_db``, opened on first use
(`db`) in the unit of work of the view.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Response, g
from flask import request as flask_request
from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.audit import service as audit
from idp.federation import peer_clients
from idp.oidc import client_cache, oauth_request, refresh, runtime
from idp.oidc.claims import SUPPORTED_SCOPES
from idp.oidc.client_auth import PrivateKeyJwt
from idp.oidc.client_credentials import ClientCredentialsGrant
from idp.oidc.code import AuthorizationCodeGrant, OpenIDCode, RefuseRequestObjects
from idp.oidc.codes import CodeStore
from idp.oidc.exchange import TokenExchangeGrant
from idp.oidc.models import Client
from idp.oidc.pkce import S256CodeChallenge
from idp.oidc.reference import ReferenceTokens
from idp.oidc.subject import subject_for
from idp.oidc.tokens import AccessTokenGenerator, AccessTokenVerifier
from idp.platform import Platform

log = logging.getLogger(__name__)
MAX_CLIENT_ID_LENGTH = 64


def log_machine_token(grant_type: str, client_id: str) -> None:
    """client_credentials is the machine hot path: logged, not audited (issue 2 perf)."""
    log.info("token issued grant=%s client=%s", grant_type, client_id)


def issue_event(token: dict[str, Any], client: Client, grant_type: str, user: Any,
                address: str) -> dict[str, Any]:
    """The audit event of tokens issued to a person (R-53; `audit.given_fields`)."""
    return audit.given_fields(
        actor=f"client:{client.client_id}", action="oidc:token:issue",
        target=f"person:{user.person.id}", address=address,
        details={"grant_type": grant_type, "scope": token.get("scope", ""),
                 "refresh": bool(token.get("refresh_token"))})


class Issuer(IssuerParameter):
    """RFC 9207: ``iss`` on every authorization response, errors included."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


class IdpAuthorizationServer(AuthorizationServer):
    def __init__(self, platform: Platform) -> None:
        super().__init__()
        settings = platform.settings
        self.platform = platform
        self.settings = settings
        self.scopes_supported = list(SUPPORTED_SCOPES)
        self.keys = runtime.keyring(platform)
        self.revoked = runtime.revocations(platform)
        self.clients = runtime.clients(platform)
        self.codes = CodeStore(platform.store, settings.secret_key,
                               settings.authorization_code_ttl)
        # Exchanged tokens are opaque handles whose claims stay in the Store (reference.py).
        self.references = ReferenceTokens(platform.store, settings.secret_key)
        self.verifier = AccessTokenVerifier(settings.issuer, self.keys, platform.protector,
                                            self.revoked, self.references)
        self.register_token_generator("default", AccessTokenGenerator(
            settings.issuer, self.keys, platform.protector, settings.secret_key,
            settings.access_token_ttl, lambda **_: refresh.new_token()))
        self.issuer_parameter = Issuer(settings.issuer)
        self.register_extension(lambda server: self.issuer_parameter(server))
        self.register_client_auth_method("private_key_jwt",
                                         PrivateKeyJwt(platform.store, settings.issuer))
        self.register_grant(AuthorizationCodeGrant,
                            [S256CodeChallenge(required=True), OpenIDCode(self),
                             RefuseRequestObjects()])
        self.register_grant(refresh.RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(TokenExchangeGrant)  # RFC 8693 (exchange.py)

    # -- ports ------------------------------------------------------------------------------

    def db(self) -> Session:
        """The request's database session, opened on first use within the view's unit of work."""
        session = g.get("oidc_db")
        if session is None:
            session = g.oidc_db = g.oidc_db_open()
        return session  # type: ignore[no-any-return]

    def remote_addr(self) -> str:
        return (flask_request.remote_addr or "")[:64]

    def subject(self, client: Client, person: Person) -> str:
        return subject_for(client, person.sub, self.settings.secret_key)

    # -- authlib hooks ----------------------------------------------------------------------

    def query_client(self, client_id: Any, db: Callable[[], Session] | None = None
                     ) -> Client | None:
        """The active client ``client_id``; ``db`` opens the session a cache miss reads
        from (default: the request's, `db`)."""
        if peer_clients.is_peer_id(client_id):  # a federation node (issue 6, OIDF §12.1)
            return peer_clients.peer_client(self.platform, client_id)
        if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID_LENGTH:
            return None
        if not (client_id.isascii() and client_id.isprintable()):
            return None  # issued ids are URL-safe; PostgreSQL refuses NUL in text anyway
        # Cached per process, re-read whenever any client changed (client_cache.py).
        opener = db or self.db
        client = self.clients.get(client_id, lambda cid: client_cache.load(opener(), cid))
        if client is None or client.disabled:
            return None
        return client

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self.record_issue(self.db(), token, request.client, request.payload.grant_type,
                          request.user, self.remote_addr())

    def record_issue(self, session: Session, token: dict[str, Any], client: Client,
                     grant_type: str, user: Any, address: str) -> None:
        """Store the new refresh token (unless `refresh.rotate` did) and audit the issue;
        a machine token (no person) is only logged."""
        if token.get("refresh_token") and user is not None:
            refresh.store(session, self.settings.secret_key, token["refresh_token"],
                          client_id=client.client_id, user=user, scope=token.get("scope", ""),
                          ttl=self.settings.refresh_token_ttl)
        if user is None:
            log_machine_token(grant_type, client.client_id)
            return
        audit.record(session, **issue_event(token, client, grant_type, user, address))

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        # The request object itself, not Flask's context-local proxy: authlib reads the
        # form a dozen times per request, and each read through the proxy costs a lookup.
        return oauth_request.LeanOAuth2Request(
            flask_request._get_current_object())  # type: ignore[attr-defined]

    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Response:
        resp = super().handle_response(status_code, payload, headers)
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """authlib's Flask signals are not used: auditing happens in `save_token` et al."""
