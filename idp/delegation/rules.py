"""The rules a grant must satisfy when made, approved or widened (R-42).

At most three levels below the representative (level 0); re-delegation only with the right
to; only a subset of the grantor's effective scope and within the grantor's validity;
grantor and grantee are active persons; nobody grants to themself, to someone above them in
the chain, or to someone already holding an overlapping active grant in the same chain.
The caller holds the legal person's lock (`Orgs.lock_for_update`), so what is checked here
cannot change before the commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import AccountStatus, Person
from idp.delegation.errors import DelegationError
from idp.delegation.models import MAX_LEVEL, Grant, GrantStatus
from idp.delegation.scope import Scope
from idp.delegation.tree import bounds, chain_of, scope_of
from idp.orgs.models import LegalPerson


@dataclass(frozen=True)
class Proposal:
    """A grant as it would be after the operation."""

    org: LegalPerson
    grantor_id: int
    grantee_id: int
    parent: Grant | None
    scope: Scope
    valid_from: dt.datetime
    valid_until: dt.datetime
    may_redelegate: bool
    replacing: Grant | None = None  # the grant being changed: not its own duplicate


def check_window(valid_from: object, valid_until: object, now: dt.datetime) -> None:
    """Refuse naive or reversed windows and windows already over."""
    for value in (valid_from, valid_until):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise DelegationError("invalid_validity")
    assert isinstance(valid_from, dt.datetime) and isinstance(valid_until, dt.datetime)
    if valid_until <= valid_from or valid_until <= now:
        raise DelegationError("invalid_validity")


def check(session: Session, p: Proposal, now: dt.datetime) -> list[Grant]:
    """Check every rule; return the parent's chain (level 1 first; empty for level 1)."""
    if not p.org.is_active:
        raise DelegationError("org_inactive")
    check_window(p.valid_from, p.valid_until, now)
    if p.grantor_id == p.grantee_id:
        raise DelegationError("self_grant")
    chain = _parent_chain(session, p, now)
    level = len(chain) + 1
    if level == MAX_LEVEL and p.may_redelegate:
        raise DelegationError("level_exceeded")
    above = [p.org.representative_person_id] + [g.grantee_person_id for g in chain]
    if p.grantee_id in above:
        raise DelegationError("cycle")
    _check_persons_active(session, [*above, p.grantor_id, p.grantee_id])
    _check_no_duplicate(session, p, chain)
    return chain


def _parent_chain(session: Session, p: Proposal, now: dt.datetime) -> list[Grant]:
    if p.parent is None:
        if p.grantor_id != p.org.representative_person_id:
            raise DelegationError("not_authorised")
        return []
    parent = p.parent
    if parent.legal_person_id != p.org.id:
        raise DelegationError("grant_not_found")
    if parent.grantee_person_id != p.grantor_id:
        raise DelegationError("not_authorised")
    chain = chain_of(session, parent)
    if any(g.status != GrantStatus.ACTIVE.value for g in chain):
        raise DelegationError("grant_not_active")
    limits = bounds(chain)
    if limits.valid_until <= now:
        raise DelegationError("grant_not_active")
    if parent.level >= MAX_LEVEL:
        raise DelegationError("level_exceeded")
    if not parent.may_redelegate:
        raise DelegationError("redelegation_not_allowed")
    if not p.scope.within(limits.scope):
        raise DelegationError("scope_exceeds")
    if p.valid_from < limits.valid_from or p.valid_until > limits.valid_until:
        raise DelegationError("validity_exceeds")
    return chain


def _check_persons_active(session: Session, person_ids: list[int]) -> None:
    found = dict(session.execute(
        select(Person.id, Person.status).where(Person.id.in_(set(person_ids)))).all())
    if any(found.get(pid) != AccountStatus.ACTIVE.value for pid in person_ids):
        raise DelegationError("person_inactive")


def _check_no_duplicate(session: Session, p: Proposal, chain: list[Grant]) -> None:
    """Same chain = same level-1 root; among level-1 grants, the representative's tree."""
    query = select(Grant).where(Grant.legal_person_id == p.org.id,
                                Grant.grantee_person_id == p.grantee_id,
                                Grant.status == GrantStatus.ACTIVE.value)
    if chain:
        query = query.where(Grant.root_grant_id == chain[0].id)
    else:
        query = query.where(Grant.level == 1)
    if p.replacing is not None:
        query = query.where(Grant.id != p.replacing.id)
    for held in session.scalars(query):
        if scope_of(held).overlaps(p.scope):
            raise DelegationError("duplicate")
