"""Password recovery by an SMS code to the bound phone (R-40, R-70).

Two steps. `Recovery.start` takes a login name (ID number or bound phone), sends a code to
the account's bound phone and answers with an opaque *ticket*; `Recovery.confirm` takes the
ticket, the code and the new password, and resets the password.

Privacy: whether an account exists (or has a phone) is never told. A login name without an
account goes through the same limits and gets a ticket and a decoy code that was never
sent (`SmsCodes.issue(deliver=False)`), so every later answer — wrong code, attempts left,
lockout, expiry — looks the same. The bound phone is never shown for a document number.

Guessing: each code dies after ``sms_code_max_attempts`` wrong tries, and the same number of
wrong codes locks recovery of that account (or unknown name) for ``lockout_seconds``;
failures also spend the source address's budget (`AddressThrottle`). Sending is limited per
phone and per address (`SmsCodes`) and per document number here — one document number is
one account (R-63), so the account is the subject; an unknown name is its own subject.

After a reset every SSO session and refresh token of the person ends, clients get
back-channel logout (`idp.oidc.logout.end_person_sessions`), the security epoch is bumped
(outstanding access tokens refused), ``must_change_password`` is cleared, and the event is
audited. The caller commits, then sends the notices and the SMS notice (`after_commit`).
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.accounts.lockout import (
    AddressThrottle,
    Lockout,
    mask_identifier,
    person_subject,
    record,
    unknown_subject,
)
from idp.accounts.models import Person
from idp.accounts.service import (
    Accounts,
    check_password_strength,
    looks_like_phone,
    normalize_document,
    normalize_phone,
)
from idp.accounts.sms_codes import CheckOutcome, SendResult, SmsCodes
from idp.audit.models import AuditRecord
from idp.crypto import keyed_digest, random_token
from idp.db import utcnow
from idp.oidc.logout import LogoutNotice, end_person_sessions, send_notices
from idp.platform import Platform
from idp.ratelimit import Limit
from idp.sms import SmsError

log = logging.getLogger(__name__)

PURPOSE = "recovery"  # SMS template ``recovery_code``
SENDS_PER_DOCUMENT_DAILY = 5
MAX_IDENTIFIER = 64
MAX_TICKET = 64
COOLING_OFF = "phone_cooling_off"  # refusal reason / status of `phone_cooling_off`


class InvalidIdentifier(ValueError):
    """The login name is neither a phone number nor shaped like a document number."""


class Outcome(enum.StrEnum):
    OK = "ok"  # start: code sent (or decoy); confirm: password reset
    SEND_REFUSED = "send_refused"  # a send limit or the gateway; see ``send``
    DOCUMENT_DAILY = "document_daily"  # sends for this document number today exhausted
    BAD_CODE = "bad_code"  # ``remaining`` attempts left
    EXPIRED = "expired"  # no live ticket or code: start again
    LOCKED = "locked"  # ``retry_in`` seconds
    THROTTLED = "throttled"  # the source address spent its failure budget
    WEAK_PASSWORD = "weak_password"  # ``reason`` names the rule (check_password_strength)
    UNAVAILABLE = "unavailable"  # code right, but the account is banned or closed


@dataclass
class RecoveryResult:
    outcome: Outcome
    ticket: str = ""
    remaining: int = 0
    retry_in: int = 0
    reason: str = ""
    send: SendResult | None = None
    person: Person | None = None
    # For `after_commit`: back-channel notices and the phone to tell about the reset.
    notices: list[LogoutNotice] = field(default_factory=list)
    notify_phone: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


def parse_identifier(identifier: str) -> str:
    """The normalised login name; raise `InvalidIdentifier` for an impossible one."""
    text = (identifier or "").strip()
    if not text or len(text) > MAX_IDENTIFIER or "\x00" in text:
        raise InvalidIdentifier(identifier)
    if looks_like_phone(text):
        return normalize_phone(text)
    number = normalize_document(text)
    if not 6 <= len(number) <= 32 or not number.isascii() or not number.isalnum():
        raise InvalidIdentifier(identifier)
    return number


class Recovery:
    """Password recovery attempts from one source address, over one database session."""

    def __init__(self, platform: Platform, session: Session, accounts: Accounts,
                 address: str) -> None:
        s = platform.settings
        self.platform = platform
        self.session = session
        self.accounts = accounts
        self.address = address or "-"
        self.codes = SmsCodes(platform.store, platform.limiter, platform.sms, s, PURPOSE)
        self.lockout = Lockout(platform.limiter, "recovery", s.sms_code_max_attempts,
                               s.lockout_seconds)
        self.throttle = AddressThrottle(platform.limiter, s.address_max_failures,
                                        s.address_window_seconds)
        self._daily = Limit("sms-recovery-document", SENDS_PER_DOCUMENT_DAILY, 86400)

    # -- tickets (Store; nothing personal in clear) ---------------------------------------------

    def _ticket_key(self, ticket: str) -> str:
        digest = keyed_digest(self.platform.settings.secret_key, f"recovery\x00{ticket}")
        return f"recovery:{digest[:40]}"

    def _save_ticket(self, person: Person | None, subject: str) -> str:
        ticket = random_token(24)
        data = {"pid": person.id if person is not None else 0, "subject": subject}
        self.platform.store.set(self._ticket_key(ticket), json.dumps(data),
                                self.platform.settings.sms_code_ttl)
        return ticket

    def _load_ticket(self, ticket: str) -> dict[str, object] | None:
        if not isinstance(ticket, str) or not ticket or len(ticket) > MAX_TICKET:
            return None
        raw = self.platform.store.get(self._ticket_key(ticket))
        return json.loads(raw) if raw else None

    @staticmethod
    def _decoy_phone(subject: str) -> str:
        # Codes for a name without an account are keyed by the name's keyed digest.
        return f"decoy-{subject}"

    def _phone_for(self, person: Person | None, subject: str) -> tuple[str, bool]:
        """The phone the code goes to, and whether a message is really sent."""
        phone = self.accounts.phone(person) if person is not None else None
        return (phone, True) if phone else (self._decoy_phone(subject), False)

    # -- step 1 ---------------------------------------------------------------------------------

    def start(self, identifier: str) -> RecoveryResult:
        """Send a code to the bound phone of the account named by ``identifier``."""
        name = parse_identifier(identifier)
        masked = mask_identifier(name)
        wait = self.throttle.blocked_for(self.address)
        if wait:
            return RecoveryResult(Outcome.THROTTLED, retry_in=wait)
        person = self.accounts.by_identifier(name)
        subject = (person_subject(person) if person is not None
                   else unknown_subject(self.platform.settings.secret_key, name))
        wait = self.lockout.locked_for(subject)
        if wait:
            return RecoveryResult(Outcome.LOCKED, retry_in=wait)
        limiter = self.platform.limiter
        if not limiter.test(self._daily, subject):
            record(self.session, "account:recovery:start", person=person, address=self.address,
                   outcome="document_daily", identifier=masked)
            return RecoveryResult(Outcome.DOCUMENT_DAILY,
                                  retry_in=max(1, limiter.resets_in(self._daily, subject)))
        phone, deliver = self._phone_for(person, subject)
        sent = self.codes.issue(phone, self.address, deliver=deliver)
        outcome = ("success" if sent.delivered else "suppressed" if sent.ok
                   else sent.outcome.value)
        record(self.session, "account:recovery:start", person=person, address=self.address,
               outcome=outcome, identifier=masked)
        if not sent.ok:
            return RecoveryResult(Outcome.SEND_REFUSED, send=sent, retry_in=sent.retry_in)
        limiter.hit(self._daily, subject)
        return RecoveryResult(Outcome.OK, ticket=self._save_ticket(person, subject), send=sent)

    # -- step 2 ---------------------------------------------------------------------------------

    def confirm(self, ticket: str, code: str, new_password: str) -> RecoveryResult:
        """Check the code and set the new password; every session and token of the person ends.

        The password is checked first, so a weak one does not spend an attempt.
        """
        weak = check_password_strength(new_password) or (
            "password_invalid" if "\x00" in new_password else None)
        if weak:
            return RecoveryResult(Outcome.WEAK_PASSWORD, reason=weak)
        data = self._load_ticket(ticket)
        if data is None:
            return RecoveryResult(Outcome.EXPIRED)
        wait = self.throttle.blocked_for(self.address)
        if wait:
            return RecoveryResult(Outcome.THROTTLED, retry_in=wait)
        subject = str(data["subject"])
        wait = self.lockout.locked_for(subject)
        if wait:
            return RecoveryResult(Outcome.LOCKED, retry_in=wait)
        pid = int(data["pid"])  # type: ignore[call-overload]
        person = self.accounts.get(pid) if pid else None
        phone, real = self._phone_for(person, subject)
        checked = self.codes.check(phone, code or "")
        if not checked.ok or not real or person is None:
            return self._failed(ticket, person, subject, checked.outcome, checked.remaining)
        self.platform.store.delete(self._ticket_key(ticket))
        self.lockout.succeed(subject)
        if not person.is_active:
            record(self.session, "account:password:reset", person=person, address=self.address,
                   outcome="refused", method="sms", reason=f"account_{person.status}")
            return RecoveryResult(Outcome.UNAVAILABLE, reason=person.status)
        wait = phone_cooling_off(self.session, person, self.platform.settings
                                 .counter_phone_cooloff_seconds)
        if wait:
            record(self.session, "account:password:reset", person=person, address=self.address,
                   outcome="refused", method="sms", reason=COOLING_OFF)
            return RecoveryResult(Outcome.UNAVAILABLE, reason=COOLING_OFF, retry_in=wait)
        return self._reset(person, phone, new_password)

    def _failed(self, ticket: str, person: Person | None, subject: str,
                outcome: CheckOutcome, remaining: int) -> RecoveryResult:
        if outcome is CheckOutcome.EXPIRED:
            self.platform.store.delete(self._ticket_key(ticket))
            record(self.session, "account:password:reset", person=person, address=self.address,
                   outcome="failure", method="sms", reason="code_expired")
            return RecoveryResult(Outcome.EXPIRED)
        self.throttle.fail(self.address)
        left = self.lockout.fail(subject)
        record(self.session, "account:password:reset", person=person, address=self.address,
               outcome="failure", method="sms", reason="code_wrong")
        if left == 0:
            self.platform.store.delete(self._ticket_key(ticket))
            record(self.session, "account:lockout", person=person, address=self.address,
                   outcome="locked", method="recovery")
            return RecoveryResult(Outcome.LOCKED, retry_in=self.lockout.locked_for(subject))
        if remaining <= 0:  # the code died; a new one must be requested
            self.platform.store.delete(self._ticket_key(ticket))
            return RecoveryResult(Outcome.EXPIRED)
        return RecoveryResult(Outcome.BAD_CODE, remaining=min(left, remaining))

    def _reset(self, person: Person, phone: str, new_password: str) -> RecoveryResult:
        # set_password bumps the epoch (access tokens refused) and clears the forced change.
        self.accounts.set_password(person, new_password, must_change=False)
        notices = end_person_sessions(self.platform, self.session, person, "password_reset",
                                      actor=f"person:{person.id}")
        record(self.session, "account:password:reset", person=person, address=self.address,
               method="sms")
        return RecoveryResult(Outcome.OK, person=person, notices=notices, notify_phone=phone)


def phone_cooling_off(session: Session, person: Person, window: int) -> int:
    """Seconds SMS login and SMS recovery stay closed after a counter phone change (R-41).

    The one check both use (`Recovery.confirm`, `idp.accounts.login.Login.sms`): a number
    bound at a counter on a possibly forged or borrowed ID card must not take the account
    over online at once; the owner, told on the old number, has ``window`` seconds to act.
    The durable marker is the console's own audit record of the change.
    """
    if window <= 0:
        return 0
    last = session.scalar(select(func.max(AuditRecord.at)).where(
        AuditRecord.action == "admin:counter:phone_change",
        AuditRecord.target == f"person:{person.id}", AuditRecord.outcome == "success"))
    if last is None:
        return 0
    if last.tzinfo is None:  # SQLite hands back naive UTC from an aggregate
        last = last.replace(tzinfo=utcnow().tzinfo)
    return max(0, window - int((utcnow() - last).total_seconds()))


def after_commit(platform: Platform, result: RecoveryResult) -> None:
    """Send the back-channel logout notices and the "password reset" SMS of a done reset."""
    if not result.ok:
        return
    send_notices(platform, result.notices)
    notify(platform, result.notify_phone, "password_reset", {})


def notify(platform: Platform, phone: str, template: str, params: dict[str, str]) -> bool:
    """Send an informational SMS; a gateway failure is logged, never fatal (the change stands)."""
    if not phone:
        return False
    try:
        platform.sms.send(normalize_phone(phone), template, params)
    except SmsError:
        log.warning("notice sms failed template=%s", template)
        return False
    return True
