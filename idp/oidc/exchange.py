"""OAuth 2.0 Token Exchange (RFC 8693) between department systems (issue 4 item 6).

A department system holding a person's access token exchanges it at ``/token`` for a token
to call another department's API on the same person's behalf:

- only confidential clients registered for the grant, and only for the audiences listed in
  their ``exchange_audiences``; the target must exist, be enabled and its access policy
  (R-54: account kind, real-name level, second factor) must accept the person;
- the subject token is a live access token of this platform issued *to the requester*
  (``aud``): a token of someone else's cannot be laundered, and a token obtained by exchange
  can be exchanged again by its audience (a nested ``act``, §4.1);
- the new token: ``aud`` the target, ``sub`` as the target sees the person (pairwise),
  ``act: {"sub": <requester>}``, a scope within the subject token's, the target's and
  what every system it passed through registered (`idp.oidc.actors`: ``idcard`` only when
  all of them are allowed it), the login facts (``acr``, ``amr``, ``auth_time``)
  unchanged, never outliving the subject token; no refresh token. It shares the subject
  token's grant and session ids and lists the subject token's ``jti`` (and its parents')
  in ``parent_jti``, so revoking the grant, the session or the subject token itself
  (RFC 7009) revokes it. Authority to act for a legal person (``actx``, `idp.oidc.acting`)
  is carried over only when it covers the target, re-evaluated there;
- the new token is an opaque reference token (`idp.oidc.reference`): its claims — the
  target's pairwise ``sub``, the target-side subjects of the authority chain — are for the
  target alone, which introspects it (RFC 7662) or calls userinfo; the requester only
  forwards it.

Errors per §2.2.2: a bad, expired, revoked or foreign subject token, or one whose person
is banned, is ``invalid_request`` (the RFC's MUST, not ``invalid_grant``); a target the
server will not issue for — unknown, disabled, not allowed, refusing the person — is
``invalid_target``; a scope too wide is ``invalid_scope``; a client without the grant type
is ``unauthorized_client``. Every exchange, granted or refused once the person is known, is
audited (``oidc:token:exchange``).
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin

from idp.accounts.models import Person
from idp.audit import service as audit
from idp.delegation.authority import Authority, authority_of
from idp.oidc import acting, actors
from idp.oidc.client_auth import CONFIDENTIAL_METHODS
from idp.oidc.clients import TOKEN_EXCHANGE
from idp.oidc.models import Client
from idp.oidc.policy import MFA_MIN_METHODS
from idp.oidc.subject import sector_of, subject_for
from idp.oidc.tokens import VerifiedAccessToken
from idp.oidc.userinfo import live_person_snapshot
from idp.web.sso import level_of_acr

log = logging.getLogger(__name__)
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
MAX_ACT_DEPTH = 4  # delegation chains of systems stay short; the token must stay small
_LOGIN_CLAIMS = ("auth_time", "acr", "amr", "gid", "sid", "ctx")


class InvalidTargetError(OAuth2Error):
    """The authorization server is unwilling or unable to issue a token for any target
    service indicated by the ``resource`` or ``audience`` parameters.

    :rfc:`8693#section-2.2.2`
    """

    error = "invalid_target"


def act_depth(act: object) -> int:
    depth = 0
    while isinstance(act, dict):
        depth += 1
        act = act.get("act")
    return depth


def accepts_person(target: Client, claims: dict[str, Any], is_acting: bool) -> bool:
    """The target's access policy (R-54) against the login the subject token records."""
    kind = acting.LEGAL_ACTING if is_acting else acting.NATURAL
    if kind not in (target.allowed_account_kinds or [acting.NATURAL]):
        return False
    if level_of_acr(str(claims.get("acr", ""))) < target.min_realname_level:
        return False
    amr = claims.get("amr")
    methods = {str(m) for m in amr} if isinstance(amr, list) else set()
    return not target.require_mfa or len(methods) >= MFA_MIN_METHODS or "mfa" in methods


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):
    """``urn:ietf:params:oauth:grant-type:token-exchange`` for access tokens (module doc)."""

    GRANT_TYPE = TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_METHODS

    def validate_token_request(self):  # type: ignore[no-untyped-def]
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("The client may not exchange tokens.")
        self.request.client = client
        form = self.request.payload.datalist
        for name, values in form.items():
            if len(values) > 1 and name not in ("audience", "resource"):
                raise InvalidRequestError("A parameter is repeated.")
        if form.get("actor_token") or form.get("actor_token_type"):
            raise InvalidRequestError("Actor tokens are not accepted: the authenticated "
                                      "client is the actor.")
        self._check_types()
        self.subject = self._subject_token()
        self.person = self._subject_person()
        self.target = self._target()
        self.scope = self._scope()
        self.acting = self._acting()
        if not accepts_person(self.target, self.subject.claims, self.acting is not None):
            self._refuse("policy")
            raise InvalidTargetError("The target's access policy does not accept this "
                                     "person or sign-in.")

    # -- request checks ---------------------------------------------------------------------

    def _one(self, name: str) -> str | None:
        value = self.request.payload.data.get(name)
        return value if isinstance(value, str) and value else None

    def _check_types(self) -> None:
        if self._one("subject_token_type") != ACCESS_TOKEN_TYPE:
            raise InvalidRequestError("'subject_token_type' must be " + ACCESS_TOKEN_TYPE)
        requested = self._one("requested_token_type")
        if requested not in (None, ACCESS_TOKEN_TYPE):
            raise InvalidRequestError("Only access tokens are issued by exchange.")

    def _subject_token(self) -> VerifiedAccessToken:
        token = self._one("subject_token")
        if token is None:
            raise InvalidRequestError("Missing 'subject_token'.")
        verified = self.server.verifier.verify(token)
        if verified is None or verified.person_id is None:
            raise InvalidRequestError("The subject token is invalid, expired or revoked.")
        if verified.claims.get("aud") != self.request.client.client_id:
            raise InvalidRequestError("The subject token was not issued to this client.")
        if act_depth(verified.claims.get("act")) >= MAX_ACT_DEPTH:
            raise InvalidRequestError("The subject token has been exchanged too often.")
        return verified

    def _subject_person(self) -> Person:
        person = live_person_snapshot(self.server.db(), self.subject)
        if person is None:  # banned, closed, or password reset since the token was issued
            self._refuse("person_inactive")
            raise InvalidRequestError("The subject token is invalid, expired or revoked.")
        return person

    def _target(self) -> Client:
        form = self.request.payload.datalist
        audiences, resources = form.get("audience", []), form.get("resource", [])
        if len(audiences) > 1 or len(resources) > 1:
            raise InvalidTargetError("Name exactly one target.")
        if not audiences:
            raise InvalidTargetError("Name the target department system with 'audience'.")
        audience = audiences[0]
        requester: Client = self.request.client
        allowed = audience in (requester.exchange_audiences or [])
        target = self.server.query_client(audience) if allowed else None
        if target is None:  # not allowed, unknown or disabled: one answer for all three
            self._refuse("audience", audience=audience[:64])
            raise InvalidTargetError("This client may not exchange tokens for that audience.")
        if resources and not self._resource_of(target, resources[0]):
            raise InvalidTargetError("The resource is not served by the audience.")
        return target

    @staticmethod
    def _resource_of(target: Client, resource: str) -> bool:
        """RFC 8707 resource: an absolute URI on the target's own host (its sector)."""
        parts = urlsplit(resource)
        return (parts.scheme in ("https", "http") and not parts.fragment
                and parts.hostname is not None and parts.hostname == sector_of(target))

    def _scope(self) -> str:
        """Within the subject token's scope and what the target *and* every system the
        token passed through may get (`actors.restrict`): the requester never obtains, by
        way of the target, claims it could not get itself (``idcard``)."""
        server = self.server
        passed = actors.resolve(actors.parties(self.subject.claims), server.query_client)
        if passed is None:  # a system on the way was disabled: its tokens are dead
            raise InvalidRequestError("The subject token is invalid, expired or revoked.")
        allowed = set(actors.restrict(self.subject.scope, [*passed, self.target]))
        requested = self.request.payload.scope
        if requested is None:
            scope = [s for s in self.subject.scope if s in allowed]
        else:
            scope = list(dict.fromkeys(requested.split()))
            if not set(scope) <= allowed:
                self._refuse("scope", scope=" ".join(scope)[:200])
                raise InvalidScopeError("The scope exceeds the subject token's or the "
                                        "target's.")
        if not scope:
            raise InvalidScopeError("No scope left for the target.")
        return " ".join(scope)

    def _acting(self) -> Authority | None:
        """Authority for a legal person: still holding as issued to the requester, then
        evaluated at the target (its items there); refused when it does not cover it."""
        if "actx" not in self.subject.claims:
            return None
        server, db = self.server, self.server.db()
        ref = acting.unseal(server.platform.protector, self.subject.claims["actx"])
        held = None if ref is None else acting.recheck(
            db, self.person.id, ref, self.request.client.client_id)
        if ref is not None and held is not None:
            for authority in authority_of(db, self.person.id, ref.legal_person_id,
                                          self.target.client_id):
                here = acting.ActingRef.of(authority)
                if (here.grant_id, here.chain) == (ref.grant_id, ref.chain):
                    return authority
        self._refuse("authority")
        raise InvalidTargetError("The authority to act for the organisation does not cover "
                                 "the target.")

    def _refuse(self, reason: str, **details: Any) -> None:
        """Audit a refusal once the person is known (before that, nothing names anyone)."""
        server = self.server
        audit.record(server.db(), actor=f"client:{self.request.client.client_id}",
                     action="oidc:token:exchange", target=f"person:{self.subject.person_id}",
                     outcome="failure", address=server.remote_addr(),
                     details={"reason": reason, **details})

    # -- issuing ----------------------------------------------------------------------------

    def create_token_response(self):  # type: ignore[no-untyped-def]
        claims = self._claims()
        server = self.server
        token = server.references.issue(claims)  # opaque: the claims are the target's
        requester = self.request.client.client_id
        audit.record(server.db(), actor=f"client:{requester}", action="oidc:token:exchange",
                     target=f"person:{self.person.id}", address=server.remote_addr(),
                     details={"audience": self.target.client_id, "scope": self.scope,
                              "act_depth": act_depth(claims["act"]),
                              "org": claims["org"]["credit_code"] if "org" in claims
                              else None})
        log.info("token exchanged client=%s audience=%s", requester, self.target.client_id)
        body = {"access_token": token, "issued_token_type": ACCESS_TOKEN_TYPE,
                "token_type": "Bearer", "expires_in": claims["exp"] - claims["iat"],
                "scope": self.scope}
        return 200, body, self.TOKEN_RESPONSE_HEADER

    def _claims(self) -> dict[str, Any]:
        """RFC 9068 claims for the target, with ``act`` (RFC 8693 §4.1)."""
        server, subject = self.server, self.subject.claims
        settings = server.settings
        now = int(time.time())
        requester = self.request.client.client_id
        act: dict[str, Any] = {"sub": requester}
        if isinstance(subject.get("act"), dict):
            act["act"] = subject["act"]
        parents = subject.get("parent_jti")
        parents = [p for p in parents if isinstance(p, str)] if isinstance(parents, list) else []
        claims: dict[str, Any] = {
            "iss": settings.issuer, "iat": now, "exp": min(int(subject["exp"]),
                                                           now + settings.access_token_ttl),
            "aud": self.target.client_id, "client_id": requester,
            "jti": secrets.token_urlsafe(16), "scope": self.scope,
            "sub": subject_for(self.target, self.person.sub, settings.secret_key), "act": act,
            # Revoking any token up the chain (RFC 7009 lists its jti) reaches this one.
            "parent_jti": [*parents, str(subject.get("jti", ""))],
            **{k: subject[k] for k in _LOGIN_CLAIMS if k in subject}}
        if self.acting is not None:
            authority = self.acting
            claims["actx"] = acting.seal(server.platform.protector,
                                         acting.ActingRef.of(authority))
            claims.update(acting.claims(authority, self.target, settings.secret_key))
        return claims
