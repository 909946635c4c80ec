"""The applications a person has authorised, and revoking one (issue 3 item 6, DESIGN.md step 6).

An application is *authorised* when the person gave it consent (OIDC Core §3.1.2.4) or it
holds a live refresh token (an offline grant, §11) of theirs. Revoking its access:

- forgets the consent, so the next authorization request asks again;
- revokes every refresh token of the person at that client, and lists each grant id
  (``gid``) as revoked, so access tokens minted from those grants are refused too
  (`refresh.revoke_family`, RFC 7009 §2.1);
- sends the client a back-channel logout token for each of the person's SSO sessions that
  it received tokens from (Back-Channel Logout 1.0 §2.5), so it ends its local session.

Access tokens issued without a refresh token carry a ``gid`` that is stored nowhere; they
live out their short lifetime (``access_token_ttl``) unless the client is logged out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.audit import service as audit
from idp.db import utcnow
from idp.oidc import consent, refresh, runtime
from idp.oidc.logout import LogoutNotice, logout_token
from idp.oidc.models import Client, Consent, RefreshToken
from idp.oidc.subject import subject_for
from idp.platform import Platform

MAX_CLIENT_ID = 64


@dataclass(frozen=True)
class AuthorisedApp:
    client_id: str
    name: str
    scopes: tuple[str, ...]  # granted, ``openid`` first
    first_at: dt.datetime
    last_at: dt.datetime
    offline: bool  # holds a live refresh token


def _order(scopes: set[str]) -> tuple[str, ...]:
    return tuple(sorted(scopes, key=lambda s: (s != "openid", s)))


def _live_refresh_tokens(session: Session, person_id: int,
                         client_id: str | None = None) -> list[RefreshToken]:
    query = select(RefreshToken).where(RefreshToken.person_id == person_id,
                                       RefreshToken.revoked_at.is_(None),
                                       RefreshToken.rotated_at.is_(None),
                                       RefreshToken.expires_at > utcnow())
    if client_id is not None:
        query = query.where(RefreshToken.client_id == client_id)
    return list(session.scalars(query))


@dataclass
class _Facts:
    scopes: set[str]
    first: dt.datetime
    last: dt.datetime
    offline: bool = False

    def add(self, token: RefreshToken) -> None:
        self.scopes |= set(token.scope.split())
        self.first = min(self.first, token.issued_at)
        self.last = max(self.last, token.issued_at)
        self.offline = True


def authorised_apps(session: Session, person_id: int) -> list[AuthorisedApp]:
    """Every application holding the person's consent or a live offline grant, newest first."""
    facts: dict[str, _Facts] = {}
    for row in session.scalars(select(Consent).where(Consent.person_id == person_id)):
        facts[row.client_id] = _Facts(set(row.scope.split()), row.granted_at, row.granted_at)
    for token in _live_refresh_tokens(session, person_id):
        facts.setdefault(token.client_id,
                         _Facts(set(), token.issued_at, token.issued_at)).add(token)
    if not facts:
        return []
    clients = {c.client_id: c for c in session.scalars(
        select(Client).where(Client.client_id.in_(facts)))}
    apps = [AuthorisedApp(cid, clients[cid].name, _order(f.scopes), f.first, f.last, f.offline)
            for cid, f in facts.items() if cid in clients]
    return sorted(apps, key=lambda a: a.last_at, reverse=True)


def _session_notices(platform: Platform, person: Person, client: Client) -> list[LogoutNotice]:
    """Logout tokens for ``client`` for each live session of the person it holds tokens from."""
    if not client.backchannel_logout_uri or client.disabled:
        return []
    sessions = platform.sessions
    sub = subject_for(client, person.sub, platform.settings.secret_key)
    return [LogoutNotice(client.client_id, client.backchannel_logout_uri,
                         logout_token(platform, client, sub, sid))
            for sid in sorted(sessions.sessions_of(person.id))
            if client.client_id in sessions.clients(sid)]


def revoke_app(platform: Platform, session: Session, person: Person, client_id: str, *,
               address: str = "") -> list[LogoutNotice] | None:
    """Revoke the application's access; None when it holds nothing of the person's.

    Changes are in the caller's transaction; send the returned notices with
    `idp.oidc.logout.send_notices` after committing.
    """
    if (not isinstance(client_id, str) or not client_id or len(client_id) > MAX_CLIENT_ID
            or not client_id.isprintable()):  # PostgreSQL refuses NUL in text
        return None
    client = session.scalars(select(Client).where(Client.client_id == client_id)).one_or_none()
    had_consent = bool(consent.granted_scopes(session, person.id, client_id))
    tokens = _live_refresh_tokens(session, person.id, client_id)
    if client is None or (not had_consent and not tokens):
        return None
    consent.revoke(session, person.id, client_id)
    revoked = runtime.revocations(platform)
    families = sorted({t.family_id for t in tokens})
    for family in families:
        refresh.revoke_family(session, revoked, family)
    notices = _session_notices(platform, person, client)
    audit.record(session, actor=f"person:{person.id}", action="oidc:grant:revoke",
                 target=f"client:{client_id}", address=address,
                 details={"consent": had_consent, "grants": len(families),
                          "notified_sessions": len(notices)})
    return notices
