"""Counter route for a person who lost their bound phone (R-41, R-40): new number, ID card.

Online, a phone change needs a code from the OLD number (`idp.accounts.phone_change`);
someone who lost it comes to a counter instead. The clerk reads the ID card (a counter
case, `idp.accounts.counter.CounterDesk.read_card`: population registry checked), sends a
code to the NEW number and has the applicant read it out (the case's ``sms`` and
``sms-verification`` steps), then `PhoneDesk.change_phone` in ONE transaction binds the new
number, ends every session and refresh token (back-channel logout after commit, like a
counter password reset: whoever holds the lost phone may be signed in) and records the change
in the person's own history (``account:phone:change``, method ``counter``) and as a console
action (``admin:counter:phone_change``). The lost number cannot be told; the new one is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.accounts.counter import CounterCase, CounterDesk, CounterError
from idp.accounts.lockout import record
from idp.accounts.recovery import notify
from idp.accounts.service import PhoneTaken, normalize_phone
from idp.crypto import mask_id_number, mask_phone
from idp.oidc.logout import LogoutNotice, end_person_sessions, send_notices


@dataclass(frozen=True)
class PhoneChanged:
    person_id: int
    account_name: str  # the ID number, masked
    phone: str  # the new number, masked
    had_phone: bool
    notices: list[LogoutNotice] = field(default_factory=list)
    new_phone: str = ""  # in clear, only for the SMS after commit; never returned


class PhoneDesk(CounterDesk):
    """`CounterDesk` plus the lost-phone change; the case, SMS and audit steps are its own."""

    def change_phone(self, case_id: str) -> PhoneChanged:
        """Bind the verified new number to the card holder's account (R-41)."""
        case = self.load(case_id)
        if not case.phone_verified or case.phone is None:
            raise CounterError("phone_not_verified", field="code")
        case = self._pop(case.id)  # one winner
        try:
            with self.platform.db.session() as session:
                done = self._change(session, case)
        except BaseException:
            self._save(case)  # nothing changed: the clerk may try again
            raise
        send_notices(self.platform, done.notices)
        # The old number is lost: tell the new one (the online flow tells the old one).
        notify(self.platform, done.new_phone, "phone_changed", {"phone": done.phone})
        return done

    def _change(self, session: Session, case: CounterCase) -> PhoneChanged:
        accounts = self._accounts(session)
        card = case.read
        person = accounts.by_document(card.number, card.id_type)
        if person is None:
            raise CounterError("no_account")
        if not person.is_active:
            raise CounterError(f"account_{person.status}")
        new = normalize_phone(case.phone or "")
        old = accounts.phone(person) or ""
        if old and normalize_phone(old) == new:
            raise CounterError("same_phone", field="phone")
        try:
            with session.begin_nested():  # a concurrent binding of the number may win
                accounts.change_phone(person, new)
                session.flush()
        except (PhoneTaken, IntegrityError):
            raise CounterError("phone_taken", field="phone") from None
        accounts.bump_epoch(person)  # whoever holds the lost phone loses every session
        notices = end_person_sessions(self.platform, session, person, "phone_change",
                                      actor=self.actor)
        masked = mask_id_number(card.number)
        self._audit("admin:counter:phone_change", session=session,
                    target=f"person:{person.id}", details={
                        "id": masked, "source": card.source, "case": case.id[:8],
                        "reference": case.registry_reference, "phone": mask_phone(old),
                        "new_phone": mask_phone(new)})
        record(session, "account:phone:change", person=person, address=self.address,
               method="counter", phone=mask_phone(old), new_phone=mask_phone(new))
        return PhoneChanged(person.id, masked, mask_phone(new), bool(old), notices, new)

