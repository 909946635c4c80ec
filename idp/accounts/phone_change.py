"""Changing the bound phone: SMS to the OLD number, then to the NEW one (R-41, R-70).

The flow, kept in the Store per person for `FLOW_TTL` seconds:

1. `start`: the signed-in person names the new number. It must be a mobile number, differ
   from the bound one and not be bound to another account (said so, never whose). A code
   goes to the OLD number. Someone who lost the old number cannot pass this step online:
   the counter route (R-40/R-41 at a service hall) handles it.
2. `confirm_old`: the code from the old number unbinds it — only then does a code go to
   the NEW number.
3. `confirm_new`: the code from the new number binds it. The change takes effect, the old
   number is told by SMS (`after_commit`), and the audit log records both numbers masked.

A step out of order (``confirm_new`` before the old number was proven) is refused. Wrong
codes die after ``sms_code_max_attempts`` and the same number of wrong codes locks the
change for ``lockout_seconds``; failures spend the address budget. Naming new numbers is
limited per person per day, so the "number taken" answer cannot be used to enumerate
registered phones.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.accounts.lockout import AddressThrottle, Lockout, person_subject, record
from idp.accounts.models import Person
from idp.accounts.recovery import notify
from idp.accounts.service import Accounts, PhoneTaken, looks_like_phone, normalize_phone
from idp.accounts.sms_codes import CheckOutcome, SendResult, SmsCodes
from idp.crypto import mask_phone
from idp.platform import Platform
from idp.ratelimit import Limit

FLOW_TTL = 15 * 60
STARTS_PER_DAY = 10
_FLOW = "phone.change"


class Step(enum.StrEnum):
    OLD = "old"  # a code went to the old number
    NEW = "new"  # the old number is proven; a code went (or goes) to the new one


class Outcome(enum.StrEnum):
    OK = "ok"
    INVALID_PHONE = "invalid_phone"
    SAME_PHONE = "same_phone"
    PHONE_TAKEN = "phone_taken"  # bound to another account (never said whose)
    NO_PHONE = "no_phone"  # nothing bound: only the counter can bind one
    OUT_OF_ORDER = "out_of_order"  # no flow, expired, or a step skipped
    TOO_MANY = "too_many"  # new numbers named today exhausted
    SEND_REFUSED = "send_refused"  # SMS limits or gateway; see ``send``
    BAD_CODE = "bad_code"
    EXPIRED = "expired"  # the code died: send a new one
    LOCKED = "locked"
    THROTTLED = "throttled"


@dataclass
class PhoneResult:
    outcome: Outcome
    step: Step | None = None
    remaining: int = 0
    retry_in: int = 0
    send: SendResult | None = None
    old_phone: str = ""  # set when the change took effect, for the SMS notice
    new_phone: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


@dataclass(frozen=True)
class PendingChange:
    step: Step
    old_masked: str
    new_masked: str


class PhoneChange:
    """The two-step phone change of one signed-in person, from one source address."""

    def __init__(self, platform: Platform, session: Session, accounts: Accounts,
                 address: str) -> None:
        s = platform.settings
        self.platform = platform
        self.session = session
        self.accounts = accounts
        self.address = address or "-"
        self.old_codes = SmsCodes(platform.store, platform.limiter, platform.sms, s, "phone_old")
        self.new_codes = SmsCodes(platform.store, platform.limiter, platform.sms, s, "phone_new")
        self.lockout = Lockout(platform.limiter, "phone-change", s.sms_code_max_attempts,
                               s.lockout_seconds)
        self.throttle = AddressThrottle(platform.limiter, s.address_max_failures,
                                        s.address_window_seconds)
        self._starts = Limit("phone-change-start", STARTS_PER_DAY, 86400)

    # -- flow state -----------------------------------------------------------------------------

    @staticmethod
    def _key(person: Person) -> str:
        return f"phone-change:{person.id}"

    def _save(self, person: Person, step: Step, new_phone: str) -> None:
        enc = self.platform.protector.encrypt(new_phone, _FLOW)  # no phone in clear
        self.platform.store.set(self._key(person), json.dumps({"step": step.value, "new": enc}),
                                FLOW_TTL)

    def _load(self, person: Person) -> tuple[Step, str] | None:
        raw = self.platform.store.get(self._key(person))
        if raw is None:
            return None
        data = json.loads(raw)
        return Step(data["step"]), self.platform.protector.decrypt(data["new"], _FLOW)

    def pending(self, person: Person) -> PendingChange | None:
        """The change in progress, masked for display."""
        found = self._load(person)
        if found is None:
            return None
        old = self.accounts.phone(person) or ""
        return PendingChange(found[0], mask_phone(old) if old else "", mask_phone(found[1]))

    def cancel(self, person: Person) -> None:
        self.platform.store.delete(self._key(person))

    # -- checks shared by the steps ---------------------------------------------------------------

    def _blocked(self, person: Person) -> PhoneResult | None:
        wait = self.throttle.blocked_for(self.address)
        if wait:
            return PhoneResult(Outcome.THROTTLED, retry_in=wait)
        wait = self.lockout.locked_for(person_subject(person))
        if wait:
            return PhoneResult(Outcome.LOCKED, retry_in=wait)
        return None

    def _taken(self, person: Person, phone: str) -> bool:
        other = self.accounts.by_phone(phone)
        return other is not None and other.id != person.id

    def _audit(self, person: Person, outcome: str, **details: object) -> None:
        record(self.session, "account:phone:change", person=person, address=self.address,
               outcome=outcome, **details)

    # -- step 1: name the new number, code to the old one ---------------------------------------

    def start(self, person: Person, new_phone: str) -> PhoneResult:
        """Check the new number, then send a code to the OLD number (R-41)."""
        refused = self._blocked(person)
        if refused:
            return refused
        old = self.accounts.phone(person)
        if not old:
            return PhoneResult(Outcome.NO_PHONE)
        if not looks_like_phone(new_phone or ""):
            return PhoneResult(Outcome.INVALID_PHONE)
        new = normalize_phone(new_phone)
        if new == normalize_phone(old):
            return PhoneResult(Outcome.SAME_PHONE)
        limiter, subject = self.platform.limiter, person_subject(person)
        if not limiter.hit(self._starts, subject):
            return PhoneResult(Outcome.TOO_MANY, retry_in=limiter.resets_in(self._starts, subject))
        if self._taken(person, new):
            self._audit(person, "refused", reason="phone_taken", new_phone=mask_phone(new))
            return PhoneResult(Outcome.PHONE_TAKEN)
        sent = self.old_codes.issue(old, self.address, deliver=True)
        if not sent.ok:
            return PhoneResult(Outcome.SEND_REFUSED, send=sent, retry_in=sent.retry_in)
        self._save(person, Step.OLD, new)
        self._audit(person, "started", phone=mask_phone(old), new_phone=mask_phone(new))
        return PhoneResult(Outcome.OK, step=Step.OLD, send=sent)

    def resend_old(self, person: Person) -> PhoneResult:
        """Send the old number's code again (the first expired or never arrived)."""
        found = self._load(person)
        if found is None or found[0] is not Step.OLD:
            return PhoneResult(Outcome.OUT_OF_ORDER)
        refused = self._blocked(person)
        if refused:
            return refused
        old = self.accounts.phone(person)
        if not old:
            return PhoneResult(Outcome.NO_PHONE)
        return self._send(self.old_codes, old, Step.OLD)

    # -- step 2: prove the old number, code to the new one --------------------------------------

    def confirm_old(self, person: Person, code: str) -> PhoneResult:
        """The old number's code unbinds it; then a code goes to the NEW number."""
        found = self._load(person)
        if found is None or found[0] is not Step.OLD:
            return PhoneResult(Outcome.OUT_OF_ORDER)
        refused = self._blocked(person)
        if refused:
            return refused
        old = self.accounts.phone(person) or ""
        checked = self.old_codes.check(old, code or "") if old else None
        if checked is None or not checked.ok:
            return self._failed(person, "old", checked.outcome if checked else
                                CheckOutcome.EXPIRED, checked.remaining if checked else 0)
        self.lockout.succeed(person_subject(person))
        self._save(person, Step.NEW, found[1])
        self._audit(person, "old_confirmed", phone=mask_phone(old))
        return self.send_new(person)

    def send_new(self, person: Person) -> PhoneResult:
        """Send (again) the code to the new number; only after the old one was proven."""
        found = self._load(person)
        if found is None or found[0] is not Step.NEW:
            return PhoneResult(Outcome.OUT_OF_ORDER)
        if self._taken(person, found[1]):
            self.cancel(person)
            return PhoneResult(Outcome.PHONE_TAKEN)
        # A refused send keeps the old number proven: the person may ask for the code again.
        return self._send(self.new_codes, found[1], Step.NEW)

    def _send(self, codes: SmsCodes, phone: str, step: Step) -> PhoneResult:
        """Send ``step``'s code to ``phone``; a refusal (limits, gateway) says when to retry."""
        sent = codes.issue(phone, self.address, deliver=True)
        if not sent.ok:
            return PhoneResult(Outcome.SEND_REFUSED, step=step, send=sent,
                               retry_in=sent.retry_in)
        return PhoneResult(Outcome.OK, step=step, send=sent)

    # -- step 3: prove the new number; the change takes effect ----------------------------------

    def confirm_new(self, person: Person, code: str) -> PhoneResult:
        """The new number's code binds it; refused unless the old number was proven first."""
        found = self._load(person)
        if found is None or found[0] is not Step.NEW:
            return PhoneResult(Outcome.OUT_OF_ORDER)
        refused = self._blocked(person)
        if refused:
            return refused
        new = found[1]
        checked = self.new_codes.check(new, code or "")
        if not checked.ok:
            return self._failed(person, "new", checked.outcome, checked.remaining)
        self.lockout.succeed(person_subject(person))
        old = self.accounts.phone(person) or ""
        try:
            with self.session.begin_nested():  # a concurrent binding of the number may win
                self.accounts.change_phone(person, new)
                self.session.flush()
        except (PhoneTaken, IntegrityError):
            self.cancel(person)
            return PhoneResult(Outcome.PHONE_TAKEN)
        self.cancel(person)
        self._audit(person, "success", phone=mask_phone(old), new_phone=mask_phone(new))
        return PhoneResult(Outcome.OK, old_phone=old, new_phone=new)

    def _failed(self, person: Person, which: str, outcome: CheckOutcome,
                remaining: int) -> PhoneResult:
        step = Step.OLD if which == "old" else Step.NEW
        if outcome is CheckOutcome.EXPIRED:
            self._audit(person, "failure", step=which, reason="code_expired")
            return PhoneResult(Outcome.EXPIRED, step=step)
        self.throttle.fail(self.address)
        left = self.lockout.fail(person_subject(person))
        self._audit(person, "failure", step=which, reason="code_wrong")
        if left == 0:
            self.cancel(person)
            record(self.session, "account:lockout", person=person, address=self.address,
                   outcome="locked", method="phone_change")
            return PhoneResult(Outcome.LOCKED,
                               retry_in=self.lockout.locked_for(person_subject(person)))
        if remaining <= 0:
            return PhoneResult(Outcome.EXPIRED, step=step)
        return PhoneResult(Outcome.BAD_CODE, step=step, remaining=min(left, remaining))


def after_commit(platform: Platform, result: PhoneResult) -> None:
    """Tell the OLD number that the binding moved (R-41), once the change is committed."""
    if result.ok and result.old_phone and result.new_phone:
        notify(platform, result.old_phone, "phone_changed", {"phone": mask_phone(result.new_phone)})
