"""Consent remembered per person, client and scope set (OIDC Core §3.1.2.4, DESIGN.md step 5).

A stored consent covers any request whose scopes are a subset of what was agreed;
``prompt=consent`` asks again regardless, and a client flagged ``skip_consent`` (a
first-party system) is never asked.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.oidc.models import Client, Consent

# ``openid`` alone releases nothing but the subject: no question to ask about it.
_IMPLICIT = {"openid"}


def granted_scopes(session: Session, person_id: int, client_id: str) -> set[str]:
    row = session.scalars(select(Consent).where(Consent.person_id == person_id,
                                                Consent.client_id == client_id)).one_or_none()
    return set(row.scope.split()) if row else set()


def needs_consent(session: Session, person_id: int, client: Client, scope: str,
                  prompt: set[str]) -> bool:
    if client.skip_consent:
        return False
    if "consent" in prompt:
        return True
    wanted = set(scope.split()) - _IMPLICIT
    return bool(wanted - granted_scopes(session, person_id, client.client_id))


def remember(session: Session, person_id: int, client_id: str, scope: str) -> None:
    """Record agreement to ``scope`` (added to what was agreed before)."""
    row = session.scalars(select(Consent).where(Consent.person_id == person_id,
                                                Consent.client_id == client_id)).one_or_none()
    if row is None:
        session.add(Consent(person_id=person_id, client_id=client_id,
                            scope=" ".join(sorted(set(scope.split())))))
    else:
        row.scope = " ".join(sorted(set(row.scope.split()) | set(scope.split())))
    session.flush()


def revoke(session: Session, person_id: int, client_id: str) -> None:
    """Forget a consent (account centre: "revoke access")."""
    row = session.scalars(select(Consent).where(Consent.person_id == person_id,
                                                Consent.client_id == client_id)).one_or_none()
    if row is not None:
        session.delete(row)
