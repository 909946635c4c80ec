"""Grants whose validity simply ended: tell the people and the clients, once (R-42).

`authority_of` already refuses a grant past its ``valid_until``, so nothing here enforces
anything. What a periodic job (``idp delegation lapse-expired``, run from cron) adds is
what nobody triggers when a validity ends by the clock: the back-channel logout for
sign-ins acting on the grant (`idp.oidc.acting_logout`), an SMS to the grantee and an
audit record. The grant keeps its status (it was not cancelled; the view shows it ended).

"Once" is the audit record itself (``delegation:expired``, target ``grant:<id>``), checked
under the legal person's row lock, so runs may overlap or repeat. Only grants that ended
within `LOOKBACK` are looked at: the job runs far more often than that, and a grant that
ended long before the platform started running it is not news to anyone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from idp.audit import service as audit
from idp.audit.models import AuditRecord
from idp.delegation.models import Grant, GrantStatus
from idp.delegation.service import Delegation

ACTION = "delegation:expired"
SYSTEM_ACTOR = "system:delegation"
LOOKBACK = dt.timedelta(days=7)


def notify_expired(d: Delegation, at: dt.datetime | None = None) -> list[Grant]:
    """Announce active grants whose validity ended in ``(at - LOOKBACK, at]``, each once."""
    at = at or d.clock()
    due = d.session.execute(select(Grant.id, Grant.legal_person_id).where(
        Grant.status == GrantStatus.ACTIVE.value, Grant.valid_until <= at,
        Grant.valid_until > at - LOOKBACK).order_by(Grant.legal_person_id, Grant.id)).all()
    by_org: dict[int, list[int]] = {}
    for grant_id, org_id in due:
        by_org.setdefault(org_id, []).append(grant_id)
    told: list[Grant] = []
    for org_id, grant_ids in by_org.items():
        org = d.lock(org_id)  # serialises overlapping runs for this legal person
        done = set(d.session.scalars(select(AuditRecord.target).where(
            AuditRecord.action == ACTION,
            AuditRecord.target.in_([f"grant:{i}" for i in grant_ids]))))
        fresh = [g for g in (d.session.get(Grant, i) for i in grant_ids)
                 if g is not None and f"grant:{g.id}" not in done
                 and g.status == GrantStatus.ACTIVE.value]
        for grant in fresh:
            audit.record(d.session, actor=SYSTEM_ACTOR, action=ACTION,
                         target=f"grant:{grant.id}",
                         details={"org": org.credit_code, "level": grant.level,
                                  "valid_until": grant.valid_until.isoformat()})
        if fresh:
            d.tell([g.grantee_person_id for g in fresh], org, "到期")
            d.authority_changed(org.id)  # sign-ins acting on them: back-channel logout
            told.extend(fresh)
    return told
