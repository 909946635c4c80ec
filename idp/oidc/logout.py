"""Ending sessions: RP-initiated logout and back-channel logout tokens.

OIDC RP-Initiated Logout 1.0 (``/end_session``) and OIDC Back-Channel Logout 1.0: when a
session ends, every client that received tokens from it and registered a
``backchannel_logout_uri`` gets a logout token (§2.4) POSTed to that URI (§2.5).

Other domains call `end_person_sessions` (ban, password reset: DESIGN.md step 6) and the
login pages call `end_browser_session` ("sign out"). Both change state in the caller's
transaction and return the notices to send; the caller sends them with `send_notices`
AFTER committing, so a slow client never holds a database transaction open. Sending uses
a 2-second timeout per client; failures are logged (client and status only) and audited.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from joserfc import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.accounts.sessions import public_sid
from idp.audit import service as audit
from idp.crypto import random_token
from idp.oidc import refresh, runtime
from idp.oidc.models import Client
from idp.oidc.subject import subject_for
from idp.platform import Platform

log = logging.getLogger(__name__)
EVENT = "http://schemas.openid.net/event/backchannel-logout"
SEND_TIMEOUT = 2.0
LOGOUT_TOKEN_TTL = 120


@dataclass(frozen=True)
class LogoutNotice:
    """One logout token ready to POST to one client."""

    client_id: str
    uri: str
    token: str
    form_field: str = "logout_token"  # other front-ends' notices (CAS: "logoutRequest")


def logout_token(platform: Platform, client: Client, sub: str, sid: str | None) -> str:
    """A logout token (Back-Channel Logout §2.4), signed like the client's ID tokens."""
    keys = runtime.keyring(platform)
    alg = client.id_token_signed_response_alg or keys.default_alg
    key = keys.signer(alg)
    now = int(time.time())
    claims = {"iss": platform.settings.issuer, "aud": client.client_id, "iat": now,
              "exp": now + LOGOUT_TOKEN_TTL, "jti": random_token(16), "sub": sub,
              "events": {EVENT: {}}}
    if sid:
        claims["sid"] = public_sid(platform.settings.secret_key, sid)
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "logout+jwt"}, claims, key,
                      algorithms=[alg])


def _notices(platform: Platform, session: Session, person: Person | None,
             ended: Iterable[tuple[str, set[str]]]) -> list[LogoutNotice]:
    """OIDC notices, plus those of hooks in ``platform.services["session_end_hooks"]``
    (other protocol front-ends sharing the SSO session, e.g. CAS single logout)."""
    pairs = list(ended)
    hooks = platform.services.get("session_end_hooks", [])
    extra = [n for hook in hooks for n in hook(platform, session, pairs)]  # type: ignore
    return _oidc_notices(platform, session, person, pairs) + extra


def _oidc_notices(platform: Platform, session: Session, person: Person | None,
                  ended: list[tuple[str, set[str]]]) -> list[LogoutNotice]:
    by_client: dict[str, list[str]] = {}
    for sid, client_ids in ended:
        for client_id in client_ids:
            by_client.setdefault(client_id, []).append(sid)
    if not by_client or person is None:
        return []
    clients = session.scalars(select(Client).where(Client.client_id.in_(by_client))).all()
    notices = []
    for client in clients:
        if not client.backchannel_logout_uri or client.disabled:
            continue
        sub = subject_for(client, person.sub, platform.settings.secret_key)
        for sid in by_client[client.client_id]:
            notices.append(LogoutNotice(client.client_id, client.backchannel_logout_uri,
                                        logout_token(platform, client, sub, sid)))
    return notices


def end_person_sessions(platform: Platform, session: Session, person: Person, reason: str,
                        *, actor: str = "system") -> list[LogoutNotice]:
    """End every SSO session and grant of a person (ban, password reset, a logout at the
    home node, a federation event; DESIGN.md step 6).

    Sessions and refresh tokens die now; access tokens are refused by userinfo and
    introspection (session ids listed, and ``security_epoch`` bumped — which also refuses
    a refresh token rotated while its predecessor was being revoked: `revoke_person`'s
    UPDATE cannot see a successor committed after it began; review of 43bd22c).
    Call `send_notices` with the result after committing. A caller that does not hold the
    person's row lock (a ban does: `bans._lock_person`) appends its own audit records after
    it: a rotation holds a token's row and then waits for the audit head, so holding the
    head before revoking the tokens could deadlock with it.
    """
    ended = platform.sessions.end_all(person.id)
    revoked = runtime.revocations(platform)
    for _s, _clients, sid in ended:
        revoked.revoke("sid", public_sid(platform.settings.secret_key, sid))
    Accounts(session, platform.protector, platform.hasher).bump_epoch(person)
    count = refresh.revoke_person(session, person.id)
    audit.record(session, actor=actor, action="oidc:logout:person", target=f"person:{person.id}",
                 details={"reason": reason, "sessions": len(ended), "refresh_tokens": count})
    return _notices(platform, session, person, ((sid, c) for _s, c, sid in ended))


def end_browser_session(platform: Platform, session: Session, sid: str, reason: str,
                        *, address: str = "") -> list[LogoutNotice]:
    """End one SSO session ("sign out", RP-initiated logout); return notices to send.

    Refresh tokens are offline grants (OIDC Core §11) and survive, as Back-Channel Logout
    §2.7 recommends; the session's access tokens are refused from now on.
    """
    sso, client_ids = platform.sessions.end(sid)
    runtime.revocations(platform).revoke("sid", public_sid(platform.settings.secret_key, sid))
    if sso is None:
        return []
    person = session.get(Person, sso.person_id)
    audit.record(session, actor=f"person:{sso.person_id}", action="oidc:logout:session",
                 target=f"person:{sso.person_id}", address=address,
                 details={"reason": reason, "clients": sorted(client_ids)})
    return _notices(platform, session, person, [(sid, client_ids)])


def _post(notice: LogoutNotice) -> str | None:
    """POST one logout token; the failure status, or None when accepted."""
    try:
        resp = requests.post(notice.uri, data={notice.form_field: notice.token},
                             timeout=SEND_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        return type(exc).__name__
    return None if resp.status_code in (200, 204) else str(resp.status_code)


def send_notices(platform: Platform, notices: list[LogoutNotice]) -> list[str]:
    """POST every logout token in parallel (§2.5); return the clients that failed.

    Bounded by `SEND_TIMEOUT` in total (clients are contacted concurrently), so a
    request that ends sessions waits at most about two seconds.
    """
    if not notices:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(notices))) as pool:
        statuses = list(pool.map(_post, notices))
    failed = []
    for notice, status in zip(notices, statuses, strict=True):
        if status is not None:
            failed.append(notice.client_id)
            log.warning("back-channel logout failed client=%s status=%s", notice.client_id,
                        status)
    if failed:
        with platform.db.session() as session:
            audit.record(session, actor="system", action="oidc:logout:backchannel",
                         outcome="failure", details={"clients": sorted(set(failed))})
    return failed


class EndSessionEndpoint(_EndSessionEndpoint):
    """authlib's RP-initiated logout endpoint; the view ends the browser's session."""

    def get_server_jwks(self):  # type: ignore[no-untyped-def]
        return self.server.keys.jwks()

    def end_session(self, end_session_request) -> None:  # type: ignore[no-untyped-def]
        """Done by the view, which knows the browser's session cookie."""
