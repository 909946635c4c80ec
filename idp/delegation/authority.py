"""What a person may do for a legal person at a client, now (R-42, R-54; DESIGN.md step 4).

Called at sign-in, token, refresh and introspection, so it reads only committed state with
three indexed queries (the legal person with its representative; the person's covering
grants by ``(grantee, status)`` and ``(client_id, grant_id)``; their chains by primary key)
and changes nothing. Ended, expired, narrowed or un-kept (R-21) authority is simply absent.

A banned or closed person's authority stops here, live: the grantee and every person above
them in the chain (the representative included) must be active. Nothing is rewritten when a
person is banned (see bans.py), so lifting the ban (R-52) restores the grants that were not
cancelled meanwhile.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from idp.accounts.models import AccountStatus, Person
from idp.db import utcnow
from idp.delegation.models import WHOLE_CLIENT, Grant, GrantScope, GrantStatus
from idp.delegation.tree import bounds
from idp.orgs.models import LegalPerson, LegalPersonStatus

REPRESENTATIVE = "representative"
DELEGATE = "delegate"
_ACTIVE = AccountStatus.ACTIVE.value


@dataclass(frozen=True)
class ChainLink:
    """One person in a chain of authority: level 0 is the representative."""

    level: int
    person_id: int
    sub: str
    grant_id: int | None  # the grant this person holds (None for the representative)


@dataclass(frozen=True)
class Authority:
    """Authority to act for a legal person at one client (what the ``org`` claim carries)."""

    legal_person_id: int
    credit_code: str
    name: str
    kind: str
    role: str  # "representative" or "delegate"
    level: int  # 0 for the representative
    grant_id: int | None
    items: tuple[str, ...]  # service items at the client; ("*",) = all of them
    valid_until: dt.datetime | None  # None: as long as the person stays representative
    chain: tuple[ChainLink, ...]  # representative first, the person last


def authority_of(session: Session, person_id: int, legal_person_id: int, client_id: str,
                 at: dt.datetime | None = None) -> list[Authority]:
    """Every way ``person_id`` may act for the legal person at ``client_id`` at ``at``.

    The representative comes first (all items, no end); then each active grant whose whole
    chain is in force, with the intersection of the chain's scopes at this client and the
    earliest end along the chain (validity windows and R-21 review deadlines).
    """
    at = at or utcnow()
    row = session.execute(
        select(LegalPerson, Person.status, Person.sub)
        .join(Person, Person.id == LegalPerson.representative_person_id)
        .where(LegalPerson.id == legal_person_id)).one_or_none()
    if row is None or row[0].status != LegalPersonStatus.ACTIVE.value or row[1] != _ACTIVE:
        return []
    org, _, rep_sub = row
    rep = ChainLink(0, org.representative_person_id, rep_sub, None)
    found = []
    if person_id == org.representative_person_id:
        found.append(_authority(org, REPRESENTATIVE, None, (WHOLE_CLIENT,), None, (rep,)))
    paths = session.scalars(
        select(Grant.path).where(
            Grant.grantee_person_id == person_id, Grant.legal_person_id == legal_person_id,
            Grant.status == GrantStatus.ACTIVE.value, Grant.valid_from <= at,
            Grant.valid_until > at,
            select(GrantScope.id).where(GrantScope.grant_id == Grant.id,
                                        GrantScope.client_id == client_id).exists())
        .order_by(Grant.level, Grant.id)).all()
    if not paths:
        return found
    chains = [[int(i) for i in path.strip("/").split("/")] for path in paths]
    grants = _load_with_holders(session, {i for chain in chains for i in chain})
    for chain in chains:
        authority = _evaluate(org, rep, [grants[i] for i in chain], client_id, at)
        if authority is not None:
            found.append(authority)
    return found


def grants_for_client(session: Session, person_id: int, client_id: str,
                      at: dt.datetime | None = None) -> list[Authority]:
    """The legal persons the person may act for at ``client_id``: one `Authority` each
    (representative preferred, else the shallowest grant), ordered by name."""
    at = at or utcnow()
    org_ids = set(session.scalars(select(LegalPerson.id).where(
        LegalPerson.representative_person_id == person_id,
        LegalPerson.status == LegalPersonStatus.ACTIVE.value)))
    org_ids.update(session.scalars(select(Grant.legal_person_id).where(
        Grant.grantee_person_id == person_id, Grant.status == GrantStatus.ACTIVE.value,
        Grant.valid_until > at)))
    options = []
    for org_id in sorted(org_ids):
        found = authority_of(session, person_id, org_id, client_id, at)
        if found:
            options.append(found[0])
    return sorted(options, key=lambda a: (a.name, a.legal_person_id))


def _load_with_holders(session: Session, ids: set[int]) -> dict[int, tuple[Grant, str, str]]:
    rows = session.execute(
        select(Grant, Person.status, Person.sub)
        .join(Person, Person.id == Grant.grantee_person_id)
        .where(Grant.id.in_(ids)).options(joinedload(Grant.scopes))).unique().all()
    return {g.id: (g, status, sub) for g, status, sub in rows}


def _evaluate(org: LegalPerson, rep: ChainLink, chain: list[tuple[Grant, str, str]],
              client_id: str, at: dt.datetime) -> Authority | None:
    grants = [g for g, _, _ in chain]
    if any(g.status != GrantStatus.ACTIVE.value for g in grants):
        return None
    if any(status != _ACTIVE for _, status, _ in chain):
        return None
    limits = bounds(grants, with_review=True)
    if not limits.valid_from <= at < limits.valid_until:
        return None
    items = limits.scope.for_client(client_id).items.get(client_id)
    if not items:
        return None
    links = (rep, *(ChainLink(g.level, g.grantee_person_id, sub, g.id) for g, _, sub in chain))
    return _authority(org, DELEGATE, grants[-1].id, tuple(sorted(items)), limits.valid_until,
                      links)


def _authority(org: LegalPerson, role: str, grant_id: int | None, items: tuple[str, ...],
               until: dt.datetime | None, chain: tuple[ChainLink, ...]) -> Authority:
    return Authority(org.id, org.credit_code, org.name, org.kind, role, len(chain) - 1,
                     grant_id, items, until, chain)

