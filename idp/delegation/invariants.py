"""Check a legal person's authority tree against the rules (R-42); for tests and operations.

Returns human-readable violations (empty when the tree is sound); never changes anything.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.delegation.models import MAX_LEVEL, Grant, GrantStatus
from idp.delegation.tree import scope_of
from idp.orgs.models import LegalPerson


def violations(session: Session, legal_person_id: int) -> list[str]:
    org = session.get(LegalPerson, legal_person_id)
    if org is None:
        return ["no such legal person"]
    grants = {g.id: g for g in session.scalars(
        select(Grant).where(Grant.legal_person_id == legal_person_id))}
    found: list[str] = []
    active = [g for g in grants.values() if g.status == GrantStatus.ACTIVE.value]
    for g in active:
        found.extend(_check_one(g, grants))
    seen = Counter((g.grantee_person_id, g.root_grant_id) for g in active if g.level > 1)
    for (person, root), n in seen.items():
        overlapping = [g for g in active if (g.grantee_person_id, g.root_grant_id)
                       == (person, root) and g.level > 1]
        if n > 1 and _any_overlap(overlapping):
            found.append(f"person {person} holds overlapping grants under root {root}")
    return found


def _check_one(g: Grant, grants: dict[int, Grant]) -> list[str]:
    out = []
    if not 1 <= g.level <= MAX_LEVEL:
        out.append(f"grant {g.id}: level {g.level}")
    if g.level == MAX_LEVEL and g.may_redelegate:
        out.append(f"grant {g.id}: level 3 may re-delegate")
    if g.parent_grant_id is None:
        return out if g.level == 1 else [*out, f"grant {g.id}: no parent at level {g.level}"]
    parent = grants[g.parent_grant_id]
    if parent.status != GrantStatus.ACTIVE.value:
        out.append(f"grant {g.id}: active under {parent.status} grant {parent.id}")
    if g.level != parent.level + 1:
        out.append(f"grant {g.id}: level {g.level} under level {parent.level}")
    if not parent.may_redelegate:
        out.append(f"grant {g.id}: parent {parent.id} may not re-delegate")
    if g.grantor_person_id != parent.grantee_person_id:
        out.append(f"grant {g.id}: grantor is not the parent's grantee")
    if not scope_of(g).within(scope_of(parent)):
        out.append(f"grant {g.id}: scope exceeds parent {parent.id}")
    if g.valid_from < parent.valid_from or g.valid_until > parent.valid_until:
        out.append(f"grant {g.id}: validity exceeds parent {parent.id}")
    return out


def _any_overlap(grants: list[Grant]) -> bool:
    return any(scope_of(a).overlaps(scope_of(b))
               for i, a in enumerate(grants) for b in grants[i + 1:])
