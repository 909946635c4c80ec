"""Viewing grants (R-42 "view"): the representative sees the whole tree; a grantee sees what
they hold and what they gave. Nothing else is shown to anyone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.delegation.models import Grant, GrantStatus
from idp.delegation.tree import LIVE, scope_of
from idp.orgs.models import LegalPerson

ROLE_REPRESENTATIVE = "representative"
ROLE_DELEGATE = "delegate"
ROLE_NONE = "none"


@dataclass(frozen=True)
class GrantView:
    id: int
    level: int
    parent_id: int | None
    grantor_sub: str
    grantee_sub: str
    scope: tuple[tuple[str, str], ...]
    valid_from: dt.datetime
    valid_until: dt.datetime
    may_redelegate: bool
    status: str
    review_deadline: dt.datetime | None  # must be kept by then


@dataclass(frozen=True)
class TreeView:
    role: str
    tree: tuple[GrantView, ...]  # the representative's whole tree; empty for others
    held: tuple[GrantView, ...]
    given: tuple[GrantView, ...]


def view(session: Session, person_id: int, legal_person_id: int, *,
         include_ended: bool = False) -> TreeView:
    """The grants of one legal person this person may see."""
    org = session.get(LegalPerson, legal_person_id)
    if org is None:
        return TreeView(ROLE_NONE, (), (), ())
    statuses = list(GrantStatus) if include_ended else list(LIVE)
    query = select(Grant).where(Grant.legal_person_id == org.id, Grant.status.in_(statuses))
    if person_id == org.representative_person_id:
        grants = list(session.scalars(query.order_by(Grant.path)))
        views = _views(session, grants)
        return TreeView(ROLE_REPRESENTATIVE, tuple(views),
                        (), tuple(v for v, g in zip(views, grants, strict=True)
                                  if g.grantor_person_id == person_id))
    grants = list(session.scalars(query.where(
        (Grant.grantee_person_id == person_id) | (Grant.grantor_person_id == person_id))
        .order_by(Grant.path)))
    views = _views(session, grants)
    pairs = list(zip(views, grants, strict=True))
    held = tuple(v for v, g in pairs if g.grantee_person_id == person_id)
    given = tuple(v for v, g in pairs if g.grantor_person_id == person_id)
    return TreeView(ROLE_DELEGATE if held or given else ROLE_NONE, (), held, given)


def _views(session: Session, grants: list[Grant]) -> list[GrantView]:
    ids = {g.grantor_person_id for g in grants} | {g.grantee_person_id for g in grants}
    subs = dict(session.execute(select(Person.id, Person.sub).where(Person.id.in_(ids))
                                ).all()) if ids else {}
    return [GrantView(g.id, g.level, g.parent_grant_id, subs.get(g.grantor_person_id, ""),
                      subs.get(g.grantee_person_id, ""), tuple(scope_of(g).pairs()),
                      g.valid_from, g.valid_until, g.may_redelegate, g.status,
                      g.review_deadline) for g in grants]
