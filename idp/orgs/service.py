"""Legal-person account operations: open, find, lock, change representative (R-20, R-21, R-63).

The verification of the opening (business registry, licence image, e-licence, CA
certificate) happens before these calls, in the opening flows; this module keeps the
account's invariants: a valid, unique credit code and an active representative.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.audit import service as audit
from idp.orgs.models import (
    LegalPerson,
    LegalPersonKind,
    LegalPersonStatus,
    OpeningMethod,
    RepresentativeChange,
)
from idp.realname.documents import DocumentError, parse

log = logging.getLogger(__name__)

NAME_MAX = 200

MESSAGES = {
    "invalid_credit_code": ("统一社会信用代码无效", "The unified social credit code is invalid"),
    "invalid_name": ("请填写单位名称(不超过200字)",
                     "Enter the organisation's name (at most 200 characters)"),
    "invalid_kind": ("不支持的单位类型", "Unsupported organisation type"),
    "invalid_method": ("不支持的开户方式", "Unsupported way of opening the account"),
    "org_exists": ("该统一社会信用代码已开户", "An account already exists for this credit code"),
    "org_not_found": ("未找到该法人账户", "No such legal-person account"),
    "org_inactive": ("该法人账户已停用或注销", "The legal-person account is suspended or closed"),
    "representative_inactive": ("法定代表人的个人账户不存在或不可用",
                                "The representative's personal account is missing or not active"),
    "same_representative": ("新法定代表人与现任相同", "The new representative is the current one"),
    "invalid_status": ("不支持的账户状态", "Unsupported account status"),
}


class OrgError(ValueError):
    """A refused legal-person operation; ``code`` is stable, ``message`` is for the user."""

    def __init__(self, code: str, detail: DocumentError | None = None) -> None:
        super().__init__(code)
        self.code = code
        zh, en = MESSAGES[code]
        if detail is not None:  # say which part of the code is wrong (R-10 style)
            zh, en = f"{zh}:{detail.messages['zh']}", f"{en}: {detail.messages['en']}"
        self.message = zh
        self.messages = {"zh": zh, "en": en}


def _enum_value(enum_cls: type, value: object, code: str) -> str:
    try:
        return str(enum_cls(value).value)  # type: ignore[call-arg]
    except ValueError:
        raise OrgError(code) from None


class Orgs:
    """Legal-person accounts over one database session; the caller commits."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- lookup ---------------------------------------------------------------------------

    def get(self, legal_person_id: int) -> LegalPerson:
        org = self.session.get(LegalPerson, legal_person_id)
        if org is None:
            raise OrgError("org_not_found")
        return org

    def by_code(self, credit_code: str) -> LegalPerson | None:
        """Find by credit code in any accepted spelling (full-width, lower case…)."""
        try:
            code = parse("uscc", credit_code).number
        except DocumentError:
            return None
        return self.session.scalars(
            select(LegalPerson).where(LegalPerson.credit_code == code)).one_or_none()

    def represented_by(self, person_id: int) -> list[LegalPerson]:
        """Accounts whose current legal representative is the person."""
        return list(self.session.scalars(
            select(LegalPerson).where(LegalPerson.representative_person_id == person_id)
            .order_by(LegalPerson.id)))

    def lock_for_update(self, legal_person_id: int) -> LegalPerson:
        """Take the account's write lock and return it fresh; serialises its authority tree.

        An UPDATE (not SELECT … FOR UPDATE) so that SQLite, whose deferred transactions only
        take the write lock at the first write, serialises too; on PostgreSQL it holds the row
        lock until commit. Everything read after this sees the latest committed state.
        """
        bumped = self.session.execute(
            update(LegalPerson).where(LegalPerson.id == legal_person_id)
            .values(tree_version=LegalPerson.tree_version + 1))
        if not bumped.rowcount:  # type: ignore[attr-defined]
            raise OrgError("org_not_found")
        self.session.expire_all()
        return self.get(legal_person_id)

    # -- changes ----------------------------------------------------------------------------

    def open_account(self, *, credit_code: str, name: str, kind: str,
                     representative_person_id: int, opened_by: str,
                     actor: str, address: str = "") -> LegalPerson:
        """Open an account bound to its representative's active personal account (R-20)."""
        try:
            code = parse("uscc", credit_code).number
        except DocumentError as exc:
            raise OrgError("invalid_credit_code", exc) from None
        name = (name or "").strip()
        if not name or len(name) > NAME_MAX:
            raise OrgError("invalid_name")
        kind = _enum_value(LegalPersonKind, kind, "invalid_kind")
        opened_by = _enum_value(OpeningMethod, opened_by, "invalid_method")
        self._active_person(representative_person_id)
        org = LegalPerson(credit_code=code, name=name, kind=kind, opened_by=opened_by,
                          representative_person_id=representative_person_id)
        self.session.add(org)
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError as exc:  # the same code opened concurrently (or before)
            raise OrgError("org_exists") from exc
        audit.record(self.session, actor=actor, action="org:open", target=f"org:{code}",
                     address=address, details={"kind": kind, "method": opened_by})
        log.info("legal person opened: %s by %s", code, opened_by)
        return org

    def set_representative(self, org: LegalPerson, new_person_id: int, *, method: str,
                           review_deadline: dt.datetime | None, actor: str,
                           address: str = "") -> RepresentativeChange:
        """Bind the account to a new representative and keep the history (R-21).

        The caller holds `lock_for_update`; the delegation domain handles the old grants.
        """
        method = _enum_value(OpeningMethod, method, "invalid_method")
        if new_person_id == org.representative_person_id:
            raise OrgError("same_representative")
        self._active_person(new_person_id)
        change = RepresentativeChange(
            legal_person_id=org.id, previous_person_id=org.representative_person_id,
            new_person_id=new_person_id, method=method, review_deadline=review_deadline,
            changed_by=actor[:64])
        org.representative_person_id = new_person_id
        self.session.add(change)
        self.session.flush()
        audit.record(self.session, actor=actor, action="org:representative_change",
                     target=f"org:{org.credit_code}", address=address,
                     details={"method": method, "change_id": change.id})
        return change

    def set_status(self, org: LegalPerson, status: str, *, actor: str,
                   address: str = "") -> None:
        """Suspend, close or reactivate; a non-active account gives no authority to anyone."""
        status = _enum_value(LegalPersonStatus, status, "invalid_status")
        org.status = status
        self.session.flush()
        audit.record(self.session, actor=actor, action="org:status",
                     target=f"org:{org.credit_code}", address=address,
                     details={"status": status})

    def history(self, org: LegalPerson) -> list[RepresentativeChange]:
        return list(self.session.scalars(
            select(RepresentativeChange).where(RepresentativeChange.legal_person_id == org.id)
            .order_by(RepresentativeChange.id)))

    def _active_person(self, person_id: int) -> Person:
        person = self.session.get(Person, person_id)
        if person is None or not person.is_active:
            raise OrgError("representative_inactive")
        return person
