"""Reading the authority tree: one grant, its chain, its subtree, its effective authority.

Every function is a single indexed query (see models: ``path`` and ``root_grant_id``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.delegation.errors import DelegationError
from idp.delegation.models import EndReason, Grant, GrantScope, GrantStatus
from idp.delegation.scope import Scope

LIVE = (GrantStatus.ACTIVE.value, GrantStatus.PENDING.value)


def load_grant(session: Session, grant_id: object) -> Grant:
    if not isinstance(grant_id, int) or isinstance(grant_id, bool):
        raise DelegationError("grant_not_found")
    grant = session.get(Grant, grant_id)
    if grant is None:
        raise DelegationError("grant_not_found")
    return grant


def scope_of(grant: Grant) -> Scope:
    return Scope.of([(s.client_id, s.item) for s in grant.scopes])


def set_scope(grant: Grant, scope: Scope) -> None:
    """Replace the grant's scope rows with ``scope`` (delete-orphan drops the old rows)."""
    wanted = set(scope.pairs())
    grant.scopes = [s for s in grant.scopes if (s.client_id, s.item) in wanted]
    have = {(s.client_id, s.item) for s in grant.scopes}
    for client_id, item in sorted(wanted - have):
        grant.scopes.append(GrantScope(client_id=client_id, item=item))


def chain_of(session: Session, grant: Grant) -> list[Grant]:
    """The grants from level 1 down to ``grant`` itself."""
    ids = grant.ancestor_ids
    above = {g.id: g for g in session.scalars(select(Grant).where(Grant.id.in_(ids)))} \
        if ids else {}
    return [above[i] for i in ids] + [grant]


def subtree(session: Session, grant: Grant, statuses: Sequence[str] = LIVE) -> list[Grant]:
    """Every grant below ``grant`` (not itself) in one of ``statuses``, by level."""
    return list(session.scalars(
        select(Grant).where(Grant.root_grant_id == grant.root_grant_id,
                            Grant.path.startswith(grant.path, autoescape=True),
                            Grant.id != grant.id, Grant.status.in_(statuses))
        .order_by(Grant.level, Grant.id)))


@dataclass(frozen=True)
class Bounds:
    """What a chain of grants allows together: the intersection of scopes, the window."""

    scope: Scope
    valid_from: dt.datetime
    valid_until: dt.datetime


def bounds(chain: Sequence[Grant], *, with_review: bool = False) -> Bounds:
    """Intersect scopes and windows along ``chain``; ``with_review`` also applies R-21
    review deadlines (what authority_of enforces; rules for new grants use the windows)."""
    scope = scope_of(chain[0])
    start, end = chain[0].valid_from, chain[0].valid_until
    for grant in chain:
        scope = scope.intersect(scope_of(grant))
        start, end = max(start, grant.valid_from), min(end, grant.valid_until)
        if with_review and grant.review_deadline is not None:
            end = min(end, grant.review_deadline)
    return Bounds(scope, start, end)


def end(grants: Sequence[Grant], status: GrantStatus, reason: EndReason, actor: str,
        at: dt.datetime) -> None:
    """Mark grants ended, all with the same time (a cascade takes effect at once)."""
    for grant in grants:
        grant.status = status.value
        grant.end_reason = reason.value
        grant.ended_at = at
        grant.ended_by = actor[:64]
