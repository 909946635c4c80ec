"""The UserInfo endpoint (OIDC Core §5.3) with RFC 6750 bearer tokens.

The token may come in the ``Authorization`` header (GET or POST, RFC 6750 §2.1) or as the
``access_token`` form parameter of a POST (§2.2). A token is honoured only while its
person is active with an unchanged ``security_epoch`` and neither the token, its grant nor
its session is on the revocation list (tokens.py). The person and their decrypted claims come
from the process's copy (`idp.oidc.person_cache`) while the person's version, read in the
revocation list's round trip, is unchanged — a ban, password reset or claim change shows on
the very next request — else from one indexed read. Releasing the full
document number (``idcard``) is audited on every read (DESIGN.md "Personal data").

A token obtained by exchange (RFC 8693, an opaque reference token) is answered as its
audience, the target, sees the person — but with the most restrictive policy of the
audience, the requester and every earlier actor (`idp.oidc.actors`): whoever holds the
token (the requester too) gets no claim one of them could not get itself. The ``idcard``
audit record names the whole chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.audit import service as audit
from idp.oidc import actors, person_cache
from idp.oidc.claims import ClaimContext, claims_for
from idp.oidc.models import Client
from idp.oidc.tokens import AccessTokenVerifier, VerifiedAccessToken
from idp.platform import Platform


class BearerError(Exception):
    """An RFC 6750 §3.1 error: ``invalid_request``, ``invalid_token`` or ``insufficient_scope``."""

    def __init__(self, error: str, description: str, status: int) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    @property
    def www_authenticate(self) -> str:
        return f'Bearer error="{self.error}", error_description="{self.description}"'


def bearer_token(auth_header: str | None, form_token: str | None, method: str,
                 form_is_urlencoded: bool) -> str:
    """The one bearer token of the request; RFC 6750 §2 forbids sending it twice."""
    header_token = None
    if auth_header:
        scheme, _, value = auth_header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise BearerError("invalid_request", "Malformed Authorization header.", 400)
        header_token = value.strip()
    if form_token is not None and not (method == "POST" and form_is_urlencoded):
        raise BearerError("invalid_request", "access_token only in a POST form body.", 400)
    if header_token and form_token is not None:
        raise BearerError("invalid_request", "More than one access token.", 400)
    token = header_token or form_token
    if not token:
        raise BearerError("invalid_token", "Missing access token.", 401)
    return token


def live_person(session: Session, verified: VerifiedAccessToken) -> Person | None:
    """The token's person if still active with the epoch the token was issued under."""
    if verified.person_id is None:
        return None
    person = session.get(Person, verified.person_id)
    if person is None or not person.is_active or person.security_epoch != verified.epoch:
        return None
    return person


def live_person_snapshot(session: Session, verified: VerifiedAccessToken) -> Person | None:
    """`live_person` as a read-only, session-less copy of the claim columns, read now.

    One primary-key select through Core (no identity map, no unit of work), for readers
    outside the hot paths (token exchange); userinfo and introspection use the process's
    copy (`person_cache.live`); callers that change the person use `live_person`.
    """
    if verified.person_id is None:
        return None
    found = person_cache.load(session, verified.person_id)
    if found is None:
        return None
    person = Person(**{name: getattr(found, name) for name in person_cache.COLUMNS})
    if not person.is_active or person.security_epoch != verified.epoch:
        return None
    return person


@dataclass
class UserInfo:
    platform: Platform
    verifier: AccessTokenVerifier

    def claims(self, session: Session | Callable[[], Session], token: str, client_lookup: Any,
               address: str) -> dict[str, Any]:
        """The claims for ``token``. ``session`` may be a callable opening the request's
        session on first use: a warm request then needs no database connection at all."""
        db = session if callable(session) else (lambda: session)
        verified = self.verifier.verify(token, with_person_version=True)
        if verified is None:
            raise BearerError("invalid_token", "The access token is invalid.", 401)
        if "openid" not in verified.scope:
            raise BearerError("insufficient_scope", "The token lacks the openid scope.", 403)
        cache = person_cache.of(self.platform)
        person = person_cache.live(cache, verified, db)
        # The audience's policy and subjects apply: the same client for an ordinary token,
        # the target department for an exchanged one (RFC 8693; its ``sub`` is pairwise there).
        client: Client | None = client_lookup(verified.claims.get("aud"))
        if person is None or client is None:
            raise BearerError("invalid_token", "The access token is invalid.", 401)
        org: dict[str, Any] = {}
        if "actx" in verified.claims:  # acting for a legal person: re-checked live (issue 4)
            from idp.oidc.acting import live_claims

            found = live_claims(db(), self.platform.protector,
                                self.platform.settings.secret_key, verified.claims,
                                person.id, client)
            if found is None:
                raise BearerError("invalid_token", "The authority has ended.", 401)
            org = found
        granted = verified.scope
        if "act" in verified.claims:  # exchanged: every system on the way must allow it
            passed = actors.resolve(actors.parties(verified.claims), client_lookup)
            if passed is None:
                raise BearerError("invalid_token", "The access token is invalid.", 401)
            granted = actors.restrict(granted, passed)
        # The snapshot's decrypted values stand in for Accounts' decrypting reads.
        context = ClaimContext(cache.decrypted, person, client)  # type: ignore[arg-type]
        result = {"sub": verified.claims["sub"], **claims_for(context, " ".join(granted)), **org}
        if "id_number" in result:
            self._audit_idcard(verified.claims, client, person, address)
        return result

    def _audit_idcard(self, claims: dict[str, Any], client: Client, person: Any,
                      address: str) -> None:
        """Who got the full number: the token's client, its audience and its actors."""
        requester = str(claims.get("client_id") or client.client_id)
        details = None
        if "act" in claims:
            details = {"audience": client.client_id, "act": actors.actor_chain(claims)}
        # The caller's session is a transaction-less reader (views.userinfo): the audit
        # record, a multi-statement write, gets a transaction of its own.
        with self.platform.db.session() as audit_session:
            audit.record(audit_session, actor=f"client:{requester}",
                         action="oidc:userinfo:idcard", target=f"person:{person.id}",
                         address=address, details=details)
