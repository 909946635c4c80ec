"""What a ban does to delegated authority (R-42, R-51, R-52).

Enforcement needs no hook: `authority_of` checks, on every call, that the grantee and every
person above them in the chain are active, so a banned person's grants — those they hold and
everything delegated through them — stop working the moment the ban commits. This hook only
tells the people whose authority stopped (or came back, on unban) and audits it; the
accounts/console code that bans or unbans calls it in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import select

from idp.audit import service as audit
from idp.delegation.models import Grant, GrantStatus
from idp.delegation.service import Delegation
from idp.delegation.tree import subtree
from idp.orgs.models import LegalPerson


def affected_by(d: Delegation, person_id: int) -> list[tuple[LegalPerson, Grant]]:
    """Active grants that depend on the person: below the grants they hold, and the whole
    tree of every legal person they represent."""
    active = GrantStatus.ACTIVE.value
    found: dict[int, Grant] = {}
    for held in d.session.scalars(select(Grant).where(Grant.grantee_person_id == person_id,
                                                      Grant.status == active)):
        found.update((g.id, g) for g in subtree(d.session, held, (active,)))
    represented = d.orgs.represented_by(person_id)
    if represented:
        found.update((g.id, g) for g in d.session.scalars(select(Grant).where(
            Grant.legal_person_id.in_([o.id for o in represented]), Grant.status == active)))
    orgs = {o.id: o for o in represented}
    for grant in found.values():
        if grant.legal_person_id not in orgs:
            orgs[grant.legal_person_id] = d.orgs.get(grant.legal_person_id)
    return [(orgs[g.legal_person_id], g) for g in sorted(found.values(), key=lambda g: g.id)]


def on_person_banned(d: Delegation, person_id: int, *, actor: str,
                     address: str = "") -> list[Grant]:
    """Tell everyone whose authority depended on the banned person that it is suspended."""
    return _announce(d, person_id, actor, address, "delegation:suspended_by_ban", "暂停")


def on_person_unbanned(d: Delegation, person_id: int, *, actor: str,
                       address: str = "") -> list[Grant]:
    """Tell the same people their authority works again (grants not cancelled meanwhile)."""
    return _announce(d, person_id, actor, address, "delegation:restored_by_unban", "恢复")


def _announce(d: Delegation, person_id: int, actor: str, address: str, action: str,
              change: str) -> list[Grant]:
    affected = affected_by(d, person_id)
    sub = d.actor(person_id).removeprefix("person:")
    audit.record(d.session, actor=actor, action=action, target=f"person:{sub}",
                 address=address, details={"grants": [g.id for _, g in affected]})
    for org, grant in affected:
        d.notify.person(grant.grantee_person_id, "grant_changed", org=org.name,
                        change=change)
    for org_id in sorted({org.id for org, _ in affected}):
        d.authority_changed(org_id)  # sign-ins acting through the person: logged out
    return [g for _, g in affected]
