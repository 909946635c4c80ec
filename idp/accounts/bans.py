"""Banning and unbanning natural-person accounts (R-51, R-52; issue 5 item 4). No Flask.

Ban (`ban`), one transaction: the account becomes ``banned`` (`Accounts.set_status` bumps the
security epoch, so every token issued before now is refused), a `Ban` row records who, why
and on which legal basis for which managing department, every SSO session and refresh
token ends (`idp.oidc.logout.end_person_sessions`), the people whose delegated authority
depended on the person are told (`idp.delegation.bans.on_person_banned`), and the whole is
audited. Only after the commit (`deliver`) do department systems get back-channel logout
tokens and the person an SMS — nobody is told about a ban that was rolled back.

Unban (R-52) takes two people: a manager asks (`request_unban`), a department head of the
managing department decides (`decide_unban`); the asker can never decide
(`admin_ui.permissions.check_not_own_request`). Approval reactivates the account, tells
the delegation side (`on_person_unbanned`) and, after commit, the person by SMS.

Every state change calls `account_status_changed`, where federation queues the change
for the other nodes that linked the account (issue 6 item 4).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_ui.permissions import check_not_own_request
from idp.accounts.ban_models import REASON_MAX, Ban, UnbanRequest, UnbanStatus
from idp.accounts.models import AccountStatus, Person
from idp.accounts.service import Accounts
from idp.audit import service as audit
from idp.crypto import mask_phone
from idp.db import utcnow
from idp.delegation.bans import on_person_banned, on_person_unbanned
from idp.delegation.service import Delegation
from idp.oidc.logout import LogoutNotice, end_person_sessions, send_notices
from idp.platform import Platform
from idp.sms import SmsError

log = logging.getLogger(__name__)

MIN_REASON = 4  # a reason a later reader can understand, not "x"
MIN_LEGAL_BASIS = 2
APPROVE, REFUSE = "account.approve_unban", "account.refuse_unban"

# code → HTTP status the console and API answer with (the code is the problem type).
STATUS = {"not_found": 404, "validation": 422, "no_department": 403,
          "wrong_department": 403, "already_banned": 409, "account_closed": 409,
          "not_banned": 409, "no_ban_record": 409, "request_pending": 409,
          "no_pending_request": 409, "already_decided": 409}


class BanError(Exception):
    """A refused ban operation; ``code`` is a key of `STATUS`, ``field`` names bad input."""

    def __init__(self, code: str, field: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.field = field

    @property
    def status(self) -> int:
        return STATUS[self.code]


@dataclass(frozen=True)
class StaffRef:
    """The staff member acting: `StaffMember` id, audit actor, managing department."""

    member_id: int
    actor: str
    department: str


@dataclass(frozen=True)
class PendingSms:
    """A message to send after the commit (the phone never leaves memory or gets logged)."""

    phone: str
    template: str
    params: dict[str, str]


@dataclass
class Outcome:
    """What a committed operation still has to tell the outside world (`deliver`)."""

    person_id: int
    record_id: int  # the Ban or UnbanRequest
    notices: list[LogoutNotice] = field(default_factory=list)
    sms: PendingSms | None = None


@dataclass(frozen=True)
class Delivery:
    """Result of `deliver`: clients whose back-channel logout failed, whether SMS went out."""

    failed_clients: list[str]
    sms_sent: bool


def check_text(name: str, value: object, minimum: int, *, required: bool = True) -> str:
    """Trimmed free text of ``minimum``–`REASON_MAX` printable characters, or `BanError`."""
    text = value.strip() if isinstance(value, str) else ""
    if not text and not required:
        return ""
    if not minimum <= len(text) <= REASON_MAX or not text.isprintable():
        raise BanError("validation", name)
    return text


def find_account(accounts: Accounts, identifier: object) -> Person:
    """The account named by a document number or bound phone (R-30 login names)."""
    text = identifier.strip() if isinstance(identifier, str) else ""
    if not text or len(text) > 64:
        raise BanError("validation", "identifier")
    person = accounts.by_identifier(text)
    if person is None:
        raise BanError("not_found")
    return person


def _lock_person(session: Session, person_id: int) -> Person:
    """The person, row-locked (PostgreSQL) so two staff cannot ban or decide at once."""
    person = session.scalars(select(Person).where(Person.id == person_id)
                             .with_for_update()).one_or_none()
    if person is None:
        raise BanError("not_found")
    return person


def current_ban(session: Session, person_id: int) -> Ban | None:
    return session.scalars(select(Ban).where(Ban.person_id == person_id,
                                             Ban.lifted_at.is_(None))
                           .order_by(Ban.id.desc()).limit(1)).one_or_none()


def pending_request(session: Session, person_id: int) -> UnbanRequest | None:
    return session.scalars(select(UnbanRequest).where(
        UnbanRequest.person_id == person_id,
        UnbanRequest.status == UnbanStatus.PENDING.value)
        .order_by(UnbanRequest.id.desc()).limit(1)).one_or_none()


def pending_for_department(session: Session, department: str,
                           limit: int = 200) -> list[UnbanRequest]:
    """Requests waiting for a head of ``department``, oldest first."""
    return list(session.scalars(select(UnbanRequest).where(
        UnbanRequest.status == UnbanStatus.PENDING.value,
        UnbanRequest.department == department).order_by(UnbanRequest.id).limit(limit)))


def account_status_changed(session: Session, person: Person, status: AccountStatus, *,
                           actor: str, address: str) -> None:
    """Hook: an account's status changed by ban or unban, inside that transaction.

    A ban issued at one node must stop the account everywhere (R-51): federation queues a
    Security Event Token for every node that linked the person (idp/federation/events.py),
    in this transaction, so it is sent only if the ban commits.
    """
    del address
    from idp.federation import events

    events.account_status_changed(session, person, status, actor=actor)


def ban(platform: Platform, session: Session, person_id: int, *, by: StaffRef,
        reason: object, legal_basis: object, address: str) -> Outcome:
    """Ban ``person_id`` (R-51); the caller commits, then calls `deliver`."""
    reason_text = check_text("reason", reason, MIN_REASON)
    basis = check_text("legal_basis", legal_basis, MIN_LEGAL_BASIS)
    if not by.department:
        raise BanError("no_department")
    person = _lock_person(session, person_id)
    if person.status == AccountStatus.BANNED.value:
        raise BanError("already_banned")
    if person.status != AccountStatus.ACTIVE.value:
        raise BanError("account_closed")
    accounts = Accounts(session, platform.protector, platform.hasher)
    accounts.set_status(person, AccountStatus.BANNED)
    record = Ban(person_id=person.id, banned_by=by.member_id, banned_by_actor=by.actor,
                 department=by.department, reason=reason_text, legal_basis=basis)
    session.add(record)
    session.flush()
    on_person_banned(Delegation.from_platform(session, platform), person.id, actor=by.actor,
                     address=address)
    audit.record(session, actor=by.actor, action="admin:account:ban",
                 target=f"person:{person.id}", address=address,
                 details={"ban": record.id, "reason": reason_text, "legal_basis": basis,
                          "department": by.department})
    account_status_changed(session, person, AccountStatus.BANNED, actor=by.actor,
                           address=address)
    # Last: ending Store sessions cannot be rolled back, so nothing may fail after it.
    notices = end_person_sessions(platform, session, person, reason="banned", actor=by.actor)
    return Outcome(person.id, record.id, notices, _sms(accounts, person, "account_banned",
                                                       reason=reason_text,
                                                       department=by.department))


def request_unban(session: Session, person_id: int, *, by: StaffRef, reason: object,
                  address: str) -> UnbanRequest:
    """A manager asks for the ban to be lifted (R-52); one pending request at a time."""
    text = check_text("reason", reason, MIN_REASON)
    person = _lock_person(session, person_id)
    if person.status != AccountStatus.BANNED.value:
        raise BanError("not_banned")
    record = current_ban(session, person.id)
    if record is None:
        raise BanError("no_ban_record")
    if pending_request(session, person.id) is not None:
        raise BanError("request_pending")
    req = UnbanRequest(person_id=person.id, ban_id=record.id, department=record.department,
                       requested_by=by.member_id, requested_by_actor=by.actor, reason=text)
    session.add(req)
    session.flush()
    audit.record(session, actor=by.actor, action="admin:unban:request",
                 target=f"person:{person.id}", address=address,
                 details={"request": req.id, "ban": record.id, "reason": text,
                          "department": record.department})
    return req


def _request_to_decide(session: Session, person: Person,
                       request_id: int | None) -> UnbanRequest:
    if request_id is None:
        req = pending_request(session, person.id)
        if req is None:
            raise BanError("no_pending_request")
        return req
    req = session.get(UnbanRequest, request_id)
    if req is None or req.person_id != person.id:
        raise BanError("not_found")
    if req.status != UnbanStatus.PENDING.value:
        raise BanError("already_decided")
    return req


def decide_unban(platform: Platform, session: Session, person_id: int, *, by: StaffRef,
                 approve: bool, reason: object, address: str,
                 request_id: int | None = None) -> Outcome:
    """A department head of the managing department approves or refuses (R-52).

    Raises `admin_ui.permissions.PermissionDenied` (reason ``own_request``) when ``by``
    asked for it; the caller audits that refusal like any other.
    """
    person = _lock_person(session, person_id)
    req = _request_to_decide(session, person, request_id)
    # Who may decide is checked before the note, so every such refusal is audited.
    check_not_own_request(APPROVE if approve else REFUSE, req.requested_by, by.member_id)
    if by.department != req.department:
        raise BanError("wrong_department")
    text = check_text("reason", reason, MIN_REASON, required=not approve)
    if approve and person.status != AccountStatus.BANNED.value:
        raise BanError("not_banned")
    req.status = (UnbanStatus.APPROVED if approve else UnbanStatus.REFUSED).value
    req.decided_by, req.decided_by_actor = by.member_id, by.actor
    req.decided_at, req.decision_reason = utcnow(), text or None
    audit.record(session, actor=by.actor,
                 action="admin:unban:approve" if approve else "admin:unban:refuse",
                 target=f"person:{person.id}", address=address,
                 details={"request": req.id, "ban": req.ban_id, "reason": text,
                          "requested_by": req.requested_by_actor})
    if not approve:
        return Outcome(person.id, req.id)
    return _lift(platform, session, person, req, by, address)


def _lift(platform: Platform, session: Session, person: Person, req: UnbanRequest,
          by: StaffRef, address: str) -> Outcome:
    accounts = Accounts(session, platform.protector, platform.hasher)
    accounts.set_status(person, AccountStatus.ACTIVE)
    record = session.get(Ban, req.ban_id)
    if record is not None and record.lifted_at is None:
        record.lifted_at, record.lifted_by_request = utcnow(), req.id
    on_person_unbanned(Delegation.from_platform(session, platform), person.id, actor=by.actor,
                       address=address)
    account_status_changed(session, person, AccountStatus.ACTIVE, actor=by.actor,
                           address=address)
    return Outcome(person.id, req.id, [], _sms(accounts, person, "account_unbanned"))


def _sms(accounts: Accounts, person: Person, template: str, **params: str) -> PendingSms | None:
    phone = accounts.phone(person)
    return PendingSms(phone, template, params) if phone else None


def deliver(platform: Platform, outcome: Outcome) -> Delivery:
    """After the commit: back-channel logout to department systems, then the person's SMS.

    A failure of either does not undo the ban: it is logged (masked) and audited, and
    the manager sees it on the result.
    """
    failed = send_notices(platform, outcome.notices)
    if outcome.sms is None:
        return Delivery(failed, False)
    try:
        platform.sms.send(outcome.sms.phone, outcome.sms.template, outcome.sms.params)
    except SmsError as exc:
        log.warning("ban sms %s to %s failed: %s", outcome.sms.template,
                    mask_phone(outcome.sms.phone), exc)
        with platform.db.session() as session:
            audit.record(session, actor="system", action="admin:account:sms",
                         target=f"person:{outcome.person_id}", outcome="failure",
                         details={"template": outcome.sms.template})
        return Delivery(failed, False)
    return Delivery(failed, True)


# -- history (read-only: the console's account page and the API) ------------------------

@dataclass(frozen=True)
class AccountHistory:
    """An account's status, bans and unban requests, newest first, for display (masked)."""

    person_id: int
    id_type: str
    id_number: str  # masked
    name: str  # masked
    phone: str | None  # masked
    status: str
    realname_level: int
    bans: list[Ban]
    requests: list[UnbanRequest]

    @property
    def pending(self) -> UnbanRequest | None:
        return next((r for r in self.requests if r.status == UnbanStatus.PENDING.value), None)


def history(accounts: Accounts, person_id: int) -> AccountHistory:
    """What the console shows about an account's bans; personal fields masked (R-70)."""
    person = accounts.get(person_id)
    if person is None:
        raise BanError("not_found")
    view = accounts.view(person)
    session = accounts.session
    bans = list(session.scalars(select(Ban).where(Ban.person_id == person.id)
                                .order_by(Ban.id.desc())))
    requests = list(session.scalars(select(UnbanRequest).where(
        UnbanRequest.person_id == person.id).order_by(UnbanRequest.id.desc())))
    return AccountHistory(person.id, person.id_type, view.id_number, view.name, view.phone,
                          person.status, person.realname_level, bans, requests)
