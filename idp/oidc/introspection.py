"""Token introspection (RFC 7662) for access and refresh tokens.

A client may introspect the tokens issued to it. ``active`` is false for anything
expired, revoked, listed on the revocation list, or whose person has been banned or had
their password reset since (``security_epoch``).

A token obtained by exchange (RFC 8693; an opaque reference token, `idp.oidc.reference`)
is introspected by its audience, the target, alone: the answer carries the person's
subject *at the target*, which the requester must not learn (pairwise subjects). Its
``scope`` is the most restrictive of every system it passed through (`idp.oidc.actors`),
and it is inactive once any of them is disabled.

The caller is authenticated first (authlib's order, RFC 7662 §2.1), so nothing about the
token — not even what reading it costs — reaches a caller that has not; and an access token
is checked to be the caller's (`issued_to`, from its signed claims) before its person or
authority is read, so another client holding it learns no more than from a revoked one.
Then at most one Store round trip per access token (issue 2 "Performance"): the token's
revocation entries and its person's versions (`idp.oidc.person_cache`), watched keys
usually answered from memory (`idp.store_watch`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.oidc import actors, person_cache, refresh
from idp.oidc.client_auth import CONFIDENTIAL_METHODS
from idp.oidc.models import RefreshToken
from idp.oidc.reference import is_handle
from idp.oidc.tokens import VerifiedAccessToken


@dataclass
class Introspected:
    """A token found by `query_token`, shaped as authlib's endpoint expects."""

    client_id: str
    active: bool
    payload: dict[str, Any]
    exchanged: bool = False  # RFC 8693: for the audience only

    def check_client(self, client: Any) -> bool:
        return bool(self.client_id == client.client_id)

    def is_expired(self) -> bool:
        return not self.active

    def is_revoked(self) -> bool:
        return not self.active


class IntrospectionEndpoint(_IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CONFIDENTIAL_METHODS

    def authenticate_token(self, request, client):  # type: ignore[no-untyped-def]
        """authlib's, with an access token checked to be ``client``'s before `_access`."""
        self.check_params(request, client)
        token_string = request.form["token"]
        if is_access_token(token_string):
            verified = self.server.verifier.verify(token_string, with_person_version=True)
            token = self._access(verified) \
                if verified is not None and issued_to(verified, client) else None
        else:
            token = self.query_token(token_string, request.form.get("token_type_hint"))
        if token and self.check_permission(token, client, request):
            return token
        return None

    def query_token(self, token_string, token_type_hint):  # type: ignore[no-untyped-def]
        """A refresh token (access tokens: `authenticate_token`)."""
        server = self.server
        if not isinstance(token_string, str) or is_access_token(token_string):
            return None
        row = refresh.find(server.db(), server.settings.secret_key, token_string)
        return self._refresh(row) if row else None

    def _access(self, verified: VerifiedAccessToken,
                db: Callable[[], Session] | None = None) -> Introspected:
        """What an access token says; ``db`` opens the session to read from when needed
        (default: the request's, `server.db`; the express lane passes its own)."""
        claims = verified.claims
        db = db or self.server.db
        # The person from the process's copy while their version is unchanged; the request's
        # reader session is opened only when it has to be read (``db``, a callable).
        active = (verified.person_id is None or person_cache.live(
            person_cache.of(self.server.platform), verified, db) is not None)
        payload: dict[str, Any] = {
            k: claims[k] for k in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat",
                                   "jti", "acr", "auth_time", "sid", "act") if k in claims}
        payload["token_type"] = "Bearer"
        exchanged = "act" in claims
        if active and exchanged:  # every system on the way: still there, its policy applies
            passed = actors.resolve(actors.parties(claims),
                                    lambda cid: self.server.query_client(cid, db=db))
            active = passed is not None
            if passed is not None:
                payload["scope"] = " ".join(actors.restrict(verified.scope, passed))
        if active and "actx" in claims:  # acting for a legal person: re-checked live
            active = self._acting(claims, verified.person_id, payload, db)
        return Introspected(str(claims.get("client_id", "")), active, payload, exchanged)

    def _acting(self, claims: dict[str, Any], person_id: int | None,
                payload: dict[str, Any], db: Callable[[], Session]) -> bool:
        """Issue 4 item 5: add the live ``org``/``authority``; False when it ended."""
        from idp.oidc.acting import live_claims

        server = self.server
        # The audience: the client the authority was evaluated for (an exchanged token's
        # target, RFC 8693; the same as client_id for every other token).
        found = live_claims(db(), server.platform.protector, server.settings.secret_key,
                            claims, person_id, server.query_client(claims.get("aud"), db=db))
        payload.update(found or {})
        return found is not None

    def _refresh(self, row: RefreshToken) -> Introspected:
        server = self.server
        person = server.db().get(Person, row.person_id)
        client = server.query_client(row.client_id)
        active = (refresh.is_live(row) and person is not None and client is not None
                  and person.is_active and person.security_epoch == row.epoch)
        payload: dict[str, Any] = {
            "scope": row.scope, "client_id": row.client_id, "token_type": "refresh_token",
            "iss": server.settings.issuer, "exp": int(row.expires_at.timestamp()),
            "iat": int(row.issued_at.timestamp())}
        if active and row.acting is not None:
            from idp.oidc.acting import resolve

            live = resolve(server.db(), person.id, row.acting, client,
                           server.settings.secret_key)
            active = live is not None
            payload.update(live.claims if live is not None else {})
        if active:
            payload["sub"] = server.subject(client, person)
        return Introspected(row.client_id, active, payload)

    def check_permission(self, token, client, request) -> bool:  # type: ignore[no-untyped-def]
        # An exchanged token (RFC 8693) is its audience's alone: the answer names the person
        # as the target sees them. Every other token: the client it was issued to.
        if token.exchanged:
            return bool(token.payload.get("aud") == client.client_id)
        return bool(token.check_client(client))

    def introspect_token(self, token: Introspected) -> dict[str, Any]:
        return {"active": True, **token.payload}


def issued_to(verified: VerifiedAccessToken, client: Any) -> bool:
    """Whether ``client`` may introspect the access token: `check_permission`'s rule, on the
    signed claims alone (an exchanged token, RFC 8693, is its audience's)."""
    claims = verified.claims
    owner = claims.get("aud") if "act" in claims else claims.get("client_id")
    return bool(owner == client.client_id)


def is_access_token(token: Any) -> bool:
    """A JWT access token or an exchanged reference handle; anything else may be a refresh
    token (looked up in the database)."""
    return isinstance(token, str) and (token.count(".") == 2 or is_handle(token))
