"""Change of legal representative and the review of the previous one's grants (R-21).

The new representative becomes level 0 at once; the previous one keeps no authority unless
granted again. Every active level-1 grant (all of them were made by a previous
representative) is listed for review: it stays in force until the review deadline, and
after it only if the new representative kept it. `authority_of` applies the deadline
itself, so un-kept grants stop working on time even before `lapse_expired` (a periodic
job) marks them lapsed with their subtrees and tells the people affected.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from idp.audit import service as audit
from idp.delegation.errors import DelegationError
from idp.delegation.models import EndReason, Grant, GrantStatus
from idp.delegation.notify import local_time
from idp.delegation.service import Delegation
from idp.delegation.tree import load_grant
from idp.orgs.models import OpeningMethod, RepresentativeChange

REVIEW_PERIOD = dt.timedelta(days=30)  # default; callers pass the configured deadline
SYSTEM_ACTOR = "system:delegation"


def change_representative(d: Delegation, legal_person_id: int, new_person_id: int, *,
                          deadline: dt.datetime | None = None,
                          method: str = OpeningMethod.REPRESENTATIVE_ONLINE.value,
                          actor: str, address: str = "") -> RepresentativeChange:
    """Make ``new_person_id`` the representative; put the old level-1 grants under review.

    Raises `DelegationError` for a bad deadline and `idp.orgs.service.OrgError` when the new
    representative is the current one or not an active person.
    """
    now = d.clock()
    deadline = deadline or now + REVIEW_PERIOD
    if not isinstance(deadline, dt.datetime) or deadline.tzinfo is None or deadline <= now:
        raise DelegationError("invalid_deadline")
    org = d.lock(legal_person_id)
    previous = org.representative_person_id
    change = d.orgs.set_representative(org, new_person_id, method=method,
                                       review_deadline=deadline, actor=actor, address=address)
    reviewed = list(d.session.scalars(select(Grant).where(
        Grant.legal_person_id == org.id, Grant.level == 1,
        Grant.status == GrantStatus.ACTIVE.value)))
    for grant in reviewed:
        grant.review_deadline = min(deadline, grant.review_deadline or deadline)
    d.session.flush()
    audit.record(d.session, actor=actor, action="delegation:review_opened",
                 target=f"org:{org.credit_code}", address=address,
                 details={"grants": [g.id for g in reviewed], "deadline": deadline.isoformat()})
    when = local_time(deadline)
    d.notify.person(previous, "representative_replaced", org=org.name)
    if reviewed:
        d.notify.person(new_person_id, "grant_review", org=org.name, count=str(len(reviewed)),
                        deadline=when)
    for grant in reviewed:
        d.notify.person(grant.grantee_person_id, "grant_review_pending", org=org.name,
                        deadline=when)
    d.authority_changed(org.id)  # the previous representative's sign-ins for it end
    return change


def pending_review(d: Delegation, legal_person_id: int,
                   at: dt.datetime | None = None) -> list[Grant]:
    """Level-1 grants the current representative still has to keep or cancel."""
    at = at or d.clock()
    return list(d.session.scalars(select(Grant).where(
        Grant.legal_person_id == legal_person_id, Grant.status == GrantStatus.ACTIVE.value,
        Grant.review_deadline.is_not(None), Grant.review_deadline > at)
        .order_by(Grant.id)))


def keep_grant(d: Delegation, actor_id: int, grant_id: int, *, address: str = "") -> Grant:
    """The new representative keeps a grant: it becomes theirs, the deadline no longer
    applies. Cancelling instead is `Delegation.cancel` (the representative may cancel)."""
    org = d.lock(d.org_id_of(grant_id))
    grant = load_grant(d.session, grant_id)
    if actor_id != org.representative_person_id:
        raise DelegationError("not_authorised")
    if (grant.status != GrantStatus.ACTIVE.value or grant.review_deadline is None
            or grant.review_deadline <= d.clock()):
        raise DelegationError("not_under_review")
    grant.review_deadline = None
    grant.grantor_person_id = actor_id
    grant.changed_at, grant.changed_by = d.clock(), d.actor(actor_id)
    d.session.flush()
    d.audit(actor_id, "keep", grant, org, address)
    d.tell([grant.grantee_person_id], org, "经新法定代表人确认保留")
    return grant


def lapse_expired(d: Delegation, at: dt.datetime | None = None) -> list[Grant]:
    """Lapse grants whose review deadline passed un-kept, with everything below them.

    Run periodically (e.g. ``idp`` CLI / scheduler); idempotent; one legal person at a time.
    """
    at = at or d.clock()
    due = d.session.execute(select(Grant.id, Grant.legal_person_id).where(
        Grant.status == GrantStatus.ACTIVE.value, Grant.review_deadline.is_not(None),
        Grant.review_deadline <= at).order_by(Grant.legal_person_id, Grant.id)).all()
    ended: list[Grant] = []
    for grant_id, org_id in due:
        org = d.lock(org_id)
        grant = d.session.get(Grant, grant_id)
        if grant is None or grant.status != GrantStatus.ACTIVE.value \
                or grant.review_deadline is None or grant.review_deadline > at:
            continue  # kept or cancelled meanwhile
        lapsed = d.end_with_subtree(grant, GrantStatus.LAPSED, EndReason.REVIEW_EXPIRED,
                                    SYSTEM_ACTOR)
        audit.record(d.session, actor=SYSTEM_ACTOR, action="delegation:lapse",
                     target=f"grant:{grant.id}",
                     details={"org": org.credit_code, "ended": [g.id for g in lapsed]})
        d.tell([g.grantee_person_id for g in lapsed], org, "因未经新法定代表人确认而失效")
        d.authority_changed(org.id)
        ended.extend(lapsed)
    return ended
