"""Delegation operations: grant, apply, approve, refuse, change, cancel, view (R-42).

Every write first takes the legal person's lock (`Orgs.lock_for_update`: a row lock on
PostgreSQL, the write lock on SQLite) and reads the tree after it, so two operations on the
same tree run one after the other and each re-checks the rules on the latest state: two
grants racing for the last level, or a cancel racing a re-delegation, cannot leave a tree
that breaks the rules. Every operation is audited (R-53) and notifies the people affected.

Cascades, decided here: narrowing a grant (scope, validity, or the re-delegation right)
narrows its descendants in the same transaction — each keeps the intersection of its own
scope with its (new) parent's and the overlap of the windows; a descendant left with no
scope or no time is cancelled (``no_longer_fits``), and withdrawing the re-delegation right
cancels the grants made with it. Cancelling cascades to everything below at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.audit import service as audit
from idp.crypto import DataProtector
from idp.db import utcnow
from idp.delegation import rules
from idp.delegation.errors import DelegationError
from idp.delegation.models import EndReason, Grant, GrantStatus
from idp.delegation.notify import Notifier, local_time
from idp.delegation.scope import Scope
from idp.delegation.tree import chain_of, end, load_grant, scope_of, set_scope, subtree
from idp.orgs.models import LegalPerson
from idp.orgs.service import OrgError, Orgs
from idp.passwords import PasswordHasher
from idp.sms import SmsGateway

if TYPE_CHECKING:
    from idp.platform import Platform

ScopeInput = Iterable[tuple[str, str]] | Scope


class Delegation:
    """Delegated authority over one session; the caller commits (SMS go out on commit)."""

    def __init__(self, session: Session, protector: DataProtector, hasher: PasswordHasher,
                 sms: SmsGateway, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.orgs = Orgs(session)
        self.notify = Notifier(session, protector, hasher, sms)
        self.clock = clock

    @classmethod
    def from_platform(cls, session: Session, platform: Platform) -> Delegation:
        return cls(session, platform.protector, platform.hasher, platform.sms)

    # -- helpers shared with representative.py and bans.py ---------------------------------

    def lock(self, legal_person_id: object) -> LegalPerson:
        if not isinstance(legal_person_id, int) or isinstance(legal_person_id, bool):
            raise DelegationError("org_not_found")
        try:
            return self.orgs.lock_for_update(legal_person_id)
        except OrgError:
            raise DelegationError("org_not_found") from None

    def actor(self, person_id: int) -> str:
        person = self.session.get(Person, person_id)
        return f"person:{person.sub}" if person is not None else f"person-id:{person_id}"

    def audit(self, actor_id: int, action: str, grant: Grant, org: LegalPerson,
              address: str, **details: object) -> None:
        audit.record(self.session, actor=self.actor(actor_id), action=f"delegation:{action}",
                     target=f"grant:{grant.id}", address=address,
                     details={"org": org.credit_code, "level": grant.level, **details})

    def tell(self, person_ids: Iterable[int], org: LegalPerson, change: str) -> None:
        for person_id in dict.fromkeys(person_ids):
            self.notify.person(person_id, "grant_changed", org=org.name, change=change)

    def authority_changed(self, legal_person_id: int) -> None:
        """Back-channel logout, after commit, for sign-ins acting on authority that just
        ended or narrowed (issue 4 item 5, idp/oidc/acting_logout.py)."""
        from idp.oidc.acting_logout import after_delegation_change

        after_delegation_change(self.session, [legal_person_id])

    def end_with_subtree(self, grant: Grant, status: GrantStatus, reason: EndReason,
                         actor: str) -> list[Grant]:
        """End ``grant`` and every live grant below it at the same instant."""
        below = subtree(self.session, grant)
        at = self.clock()
        end([grant], status, reason, actor, at)
        below_reason = EndReason.ANCESTOR_CANCELLED if status is GrantStatus.CANCELLED \
            else reason
        end(below, status, below_reason, actor, at)
        self.session.flush()
        return [grant, *below]

    # -- grant and apply --------------------------------------------------------------------

    def grant(self, actor_id: int, legal_person_id: int, grantee_id: int, scope: ScopeInput,
              valid_until: dt.datetime, *, valid_from: dt.datetime | None = None,
              may_redelegate: bool = False, parent_grant_id: int | None = None,
              address: str = "") -> Grant:
        """Grant authority: level 1 by the representative, deeper by a grantee (R-42)."""
        org = self.lock(legal_person_id)
        parent = self._parent(parent_grant_id)
        proposal = rules.Proposal(org, actor_id, grantee_id, parent, Scope.of(scope),
                                  valid_from or self.clock(), valid_until,
                                  bool(may_redelegate))
        grant = self._create(proposal, GrantStatus.ACTIVE, actor_id)
        self.audit(actor_id, "grant", grant, org, address,
                   grantee=self._sub(grantee_id), scope=proposal.scope.pairs(),
                   valid_until=valid_until.isoformat(), may_redelegate=grant.may_redelegate)
        self.notify.person(grantee_id, "grant_received", org=org.name,
                           until=local_time(grant.valid_until))
        return grant

    def apply(self, applicant_id: int, legal_person_id: int, scope: ScopeInput,
              valid_until: dt.datetime, *, valid_from: dt.datetime | None = None,
              may_redelegate: bool = False, parent_grant_id: int | None = None,
              address: str = "") -> Grant:
        """Ask for authority: from the representative, or from the holder of a grant."""
        org = self.lock(legal_person_id)
        parent = self._parent(parent_grant_id)
        grantor_id = org.representative_person_id if parent is None \
            else parent.grantee_person_id
        proposal = rules.Proposal(org, grantor_id, applicant_id, parent, Scope.of(scope),
                                  valid_from or self.clock(), valid_until,
                                  bool(may_redelegate))
        grant = self._create(proposal, GrantStatus.PENDING, applicant_id)
        self.audit(applicant_id, "apply", grant, org, address,
                   grantor=self._sub(grantor_id), scope=proposal.scope.pairs())
        self.notify.person(grantor_id, "grant_application", org=org.name)
        return grant

    def approve(self, actor_id: int, grant_id: int, *, address: str = "") -> Grant:
        """Approve an application: every rule is checked again, on today's tree."""
        grant, org = self._pending(actor_id, grant_id)
        parent = self._parent(grant.parent_grant_id)
        rules.check(self.session, rules.Proposal(
            org, actor_id, grant.grantee_person_id, parent, scope_of(grant), grant.valid_from,
            grant.valid_until, grant.may_redelegate), self.clock())
        grant.status = GrantStatus.ACTIVE.value
        grant.grantor_person_id = actor_id
        self._touch(grant, actor_id)
        self.audit(actor_id, "approve", grant, org, address)
        self.notify.person(grant.grantee_person_id, "grant_received", org=org.name,
                           until=local_time(grant.valid_until))
        return grant

    def refuse(self, actor_id: int, grant_id: int, *, address: str = "") -> Grant:
        grant, org = self._pending(actor_id, grant_id)
        end([grant], GrantStatus.REFUSED, EndReason.CANCELLED, self.actor(actor_id),
            self.clock())
        self.session.flush()
        self.audit(actor_id, "refuse", grant, org, address)
        self.notify.person(grant.grantee_person_id, "grant_application_refused", org=org.name)
        return grant

    # -- change and cancel ------------------------------------------------------------------

    def change(self, actor_id: int, grant_id: int, *, scope: ScopeInput | None = None,
               valid_from: dt.datetime | None = None, valid_until: dt.datetime | None = None,
               may_redelegate: bool | None = None, address: str = "") -> list[Grant]:
        """Change a grant; narrowing takes effect at once and cascades (module docstring).

        Returns the grants whose authority changed, the changed grant first.
        """
        grant, org = self._managed(actor_id, grant_id)
        new = rules.Proposal(
            org, self._grantor_of(grant, org), grant.grantee_person_id,
            self._parent(grant.parent_grant_id),
            scope_of(grant) if scope is None else Scope.of(scope),
            grant.valid_from if valid_from is None else valid_from,
            grant.valid_until if valid_until is None else valid_until,
            grant.may_redelegate if may_redelegate is None else bool(may_redelegate),
            replacing=grant)
        if _widens(grant, new):
            rules.check(self.session, new, self.clock())  # bounded by the grantor's authority
        else:
            rules.check_window(new.valid_from, new.valid_until, self.clock())
        set_scope(grant, new.scope)
        grant.valid_from, grant.valid_until = new.valid_from, new.valid_until
        grant.may_redelegate = new.may_redelegate
        self._touch(grant, actor_id)
        affected = [grant, *self._cascade(grant, self.actor(actor_id))]
        self.audit(actor_id, "change", grant, org, address, scope=new.scope.pairs(),
                   valid_until=new.valid_until.isoformat(),
                   may_redelegate=new.may_redelegate, affected=[g.id for g in affected])
        self.tell([g.grantee_person_id for g in affected], org, "变更")
        self.authority_changed(org.id)
        return affected

    def cancel(self, actor_id: int, grant_id: int, *, address: str = "") -> list[Grant]:
        """Cancel a grant (or withdraw an application) and everything below it, at once."""
        org = self.lock(self.org_id_of(grant_id))
        grant = load_grant(self.session, grant_id)
        if grant.status not in (GrantStatus.ACTIVE.value, GrantStatus.PENDING.value):
            raise DelegationError("grant_not_active")
        if actor_id == grant.grantee_person_id:
            reason = EndReason.WITHDRAWN if grant.status == GrantStatus.PENDING.value \
                else EndReason.RENOUNCED
        else:
            self._check_manager(actor_id, grant, org)
            reason = EndReason.CANCELLED
        ended = self.end_with_subtree(grant, GrantStatus.CANCELLED, reason,
                                      self.actor(actor_id))
        self.audit(actor_id, "cancel", grant, org, address, reason=reason.value,
                   ended=[g.id for g in ended])
        self.tell([g.grantee_person_id for g in ended if g.grantee_person_id != actor_id],
                  org, "撤销")
        self.authority_changed(org.id)
        return ended

    # -- internals --------------------------------------------------------------------------

    def _create(self, p: rules.Proposal, status: GrantStatus, actor_id: int) -> Grant:
        chain = rules.check(self.session, p, self.clock())
        grant = Grant(legal_person_id=p.org.id, grantor_person_id=p.grantor_id,
                      grantee_person_id=p.grantee_id, parent_grant_id=p.parent and p.parent.id,
                      level=len(chain) + 1, valid_from=p.valid_from, valid_until=p.valid_until,
                      may_redelegate=p.may_redelegate, status=status.value,
                      created_by=self.actor(actor_id))
        set_scope(grant, p.scope)
        self.session.add(grant)
        self.session.flush()
        grant.path = (p.parent.path if p.parent else "/") + f"{grant.id}/"
        grant.root_grant_id = chain[0].id if chain else grant.id
        self.session.flush()
        return grant

    def _cascade(self, grant: Grant, actor: str) -> list[Grant]:
        """Fit every live descendant inside its (possibly narrowed) parent."""
        by_id = {grant.id: grant}
        changed: list[Grant] = []
        for child in subtree(self.session, grant, (GrantStatus.ACTIVE.value,)):
            by_id[child.id] = child
            parent = by_id[child.parent_grant_id]  # type: ignore[index]
            if parent.status != GrantStatus.ACTIVE.value or not parent.may_redelegate:
                reason = EndReason.ANCESTOR_CANCELLED \
                    if parent.status != GrantStatus.ACTIVE.value \
                    else EndReason.REDELEGATION_WITHDRAWN
                end([child], GrantStatus.CANCELLED, reason, actor, self.clock())
                changed.append(child)
                continue
            if _fit(child, parent, actor, self.clock()):
                changed.append(child)
        self.session.flush()
        return changed

    def _parent(self, parent_grant_id: int | None) -> Grant | None:
        return None if parent_grant_id is None else load_grant(self.session, parent_grant_id)

    def org_id_of(self, grant_id: object) -> int:
        return load_grant(self.session, grant_id).legal_person_id

    def _pending(self, actor_id: int, grant_id: int) -> tuple[Grant, LegalPerson]:
        org = self.lock(self.org_id_of(grant_id))
        grant = load_grant(self.session, grant_id)
        if grant.status != GrantStatus.PENDING.value:
            raise DelegationError("not_pending")
        if actor_id != self._grantor_of(grant, org):
            raise DelegationError("not_authorised")
        return grant, org

    def _managed(self, actor_id: int, grant_id: int) -> tuple[Grant, LegalPerson]:
        org = self.lock(self.org_id_of(grant_id))
        grant = load_grant(self.session, grant_id)
        if grant.status != GrantStatus.ACTIVE.value:
            raise DelegationError("grant_not_active")
        self._check_manager(actor_id, grant, org)
        return grant, org

    def _grantor_of(self, grant: Grant, org: LegalPerson) -> int:
        """Level 1 answers to the current representative (R-21), deeper to the parent."""
        if grant.parent_grant_id is None:
            return org.representative_person_id
        return load_grant(self.session, grant.parent_grant_id).grantee_person_id

    def _check_manager(self, actor_id: int, grant: Grant, org: LegalPerson) -> None:
        """The representative and every grantee above the grant may change or cancel it."""
        above = {org.representative_person_id}
        above.update(g.grantee_person_id for g in chain_of(self.session, grant)[:-1])
        if actor_id not in above:
            raise DelegationError("not_authorised")

    def _touch(self, grant: Grant, actor_id: int) -> None:
        grant.changed_at = self.clock()
        grant.changed_by = self.actor(actor_id)
        self.session.flush()

    def _sub(self, person_id: int) -> str:
        person = self.session.get(Person, person_id)
        return person.sub if person is not None else ""


def _widens(grant: Grant, new: rules.Proposal) -> bool:
    return (not new.scope.within(scope_of(grant)) or new.valid_from < grant.valid_from
            or new.valid_until > grant.valid_until
            or (new.may_redelegate and not grant.may_redelegate))


def _fit(child: Grant, parent: Grant, actor: str, now: dt.datetime) -> bool:
    """Narrow ``child`` into ``parent``; cancel it if nothing is left. True if it changed."""
    scope = scope_of(child).intersect(scope_of(parent))
    start = max(child.valid_from, parent.valid_from)
    stop = min(child.valid_until, parent.valid_until)
    if not scope or stop <= start or stop <= now:
        end([child], GrantStatus.CANCELLED, EndReason.NO_LONGER_FITS, actor, now)
        return True
    if scope == scope_of(child) and (start, stop) == (child.valid_from, child.valid_until):
        return False
    set_scope(child, scope)
    child.valid_from, child.valid_until = start, stop
    child.changed_at, child.changed_by = now, actor[:64]
    return True
