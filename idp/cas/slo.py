"""CAS single logout (CAS Protocol 3.0 §2.3.3 and Appendix C).

When an SSO session ends — ``/cas/logout``, the OIDC ``/end_session``, a ban or a password
reset (`idp.oidc.logout`) — every CAS service that received a ticket from the session gets
a SAML 2.0 ``LogoutRequest`` POSTed as the ``logoutRequest`` form parameter, naming that
ticket in ``SessionIndex`` so the service can find its local session.

The session's client set (`SessionStore.add_client`) holds ``cas:<service id>:<ref>``;
the ticket itself stays out of that set (the set is written to the audit log) under
``cas-slo:<ref>``. Members follow the person to a fresh session on re-login (flow.py).
"""

from __future__ import annotations

import datetime as dt
from xml.sax.saxutils import escape

from sqlalchemy.orm import Session

from idp.cas.models import CasService
from idp.crypto import random_token
from idp.oidc.logout import LogoutNotice
from idp.platform import Platform
from idp.store import pop_json, set_json

PREFIX = "cas:"


def remember(platform: Platform, sid: str, service: CasService, url: str, ticket: str) -> None:
    """Note that ``service`` holds ``ticket`` from session ``sid``."""
    ref = random_token(12)
    set_json(platform.store, f"cas-slo:{ref}", {"service_id": service.id, "url": url,
                                                 "ticket": ticket},
             platform.sessions.absolute)
    platform.sessions.add_client(sid, f"{service.client_key}:{ref}")


def logout_request(ticket: str) -> str:
    """The Appendix C message; ``NameID`` is not used by CAS clients."""
    instant = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ('<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
            f'ID="LR-{random_token(16)}" Version="2.0" IssueInstant="{instant}">'
            '<saml:NameID>@NOT_USED@</saml:NameID>'
            f'<samlp:SessionIndex>{escape(ticket)}</samlp:SessionIndex>'
            '</samlp:LogoutRequest>')


def notices(platform: Platform, session: Session,
            ended: list[tuple[str, set[str]]]) -> list[LogoutNotice]:
    """Logout requests for the CAS services of the ended sessions (a session-end hook).

    Sent to the service's registered SLO URL, else to the URL the ticket was issued for,
    as Appendix C prescribes; disabled services are not contacted.
    """
    found = []
    for _sid, members in ended:
        for member in members:
            parts = member.split(":")
            if not member.startswith(PREFIX) or len(parts) != 3:
                continue
            data = pop_json(platform.store, f"cas-slo:{parts[2]}")
            if not isinstance(data, dict):
                continue
            service = session.get(CasService, data["service_id"])
            if service is None or service.disabled:
                continue
            found.append(LogoutNotice(service.client_key, service.slo_url or data["url"],
                                      logout_request(data["ticket"]), "logoutRequest"))
    return found
