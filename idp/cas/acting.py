"""Acting for a legal person at a CAS service (issue 4 item 5; R-23, R-42, R-54).

CAS has no per-request chooser, so the rule is the session's own kind
(`idp.oidc.policy.account_kind`): an enterprise certificate sign-in acts for the
enterprise it proved — at a service serving ``legal_acting``, and only while the person's
authority there holds; a password (or any other) sign-in acts as the person, so a service
serving only ``legal_acting`` sends them to the login pages (the certificate link) and then
refuses. The ticket carries the `ActingRef`; validation re-checks it live, like OIDC's
token endpoint, and releases the authority as CAS 3.0 attributes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from idp.accounts.sessions import SsoSession
from idp.cas.models import CasService
from idp.delegation.authority import Authority
from idp.oidc import acting
from idp.oidc.acting import ActingRef


def serves_acting(service: CasService) -> bool:
    return acting.LEGAL_ACTING in (service.allowed_account_kinds or [acting.NATURAL])


def for_ticket(db: Session, service: CasService, sso: SsoSession) -> Authority | None:
    """The authority a certificate session acts under at ``service``; None when it does not
    act (not a certificate session, or the service serves natural persons only) or when its
    enterprise no longer covers the service (the caller refuses that)."""
    if not sso.acting_for or not serves_acting(service):
        return None
    found = acting.options(db, sso.person_id, service.client_key)
    return acting.by_hint(found, sso.acting_for)


def recheck(db: Session, service: CasService, person_id: int,
            data: object) -> Authority | None:
    """The ticket's authority, if it still holds unchanged or wider (at validation)."""
    ref = ActingRef.load(data)
    return None if ref is None else acting.recheck(db, person_id, ref, service.client_key)


def attributes(authority: Authority) -> dict[str, Any]:
    """The ``org``/``authority`` claims flattened into CAS attributes (docs/cas.md §3).

    ``authority_valid_until`` is absent for the representative (no end), as attributes
    have no null.
    """
    attrs: dict[str, Any] = {
        "org_credit_code": authority.credit_code, "org_name": authority.name,
        "org_type": authority.kind, "authority_role": authority.role,
        "authority_level": authority.level, "authority_items": list(authority.items)}
    if authority.valid_until is not None:
        until = authority.valid_until.astimezone(dt.UTC)
        attrs["authority_valid_until"] = until.isoformat().replace("+00:00", "Z")
    return attrs
