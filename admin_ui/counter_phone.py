"""Counter route for a person who lost their bound phone (R-41, R-40): new number, ID card.

Online, a phone change needs a code from the OLD number (`idp.accounts.phone_change`);
someone who lost it comes to a counter instead. The clerk reads the ID card (a counter
case, `idp.accounts.counter.CounterDesk.read_card`: population registry checked), sends a
code to the NEW number and has the applicant read it out (the case's ``sms`` and
``sms-verification`` steps), then `PhoneDesk.change_phone` in ONE transaction binds the new
number, ends every session and refresh token (back-channel logout after commit, like a
counter password reset: whoever holds the lost phone may be signed in) and records the change
in the person's own history (``account:phone:change``, method ``counter``) and as a console
action (``admin:counter:phone_change``).

Hardening after review (issue 5): the OLD number is told too (template
``phone_changed_counter``: the hall and the hotline, no personal numbers): if it is really
lost this costs nothing, if the applicant was an impostor the owner learns at once. A case
whose card was typed in by hand (source ``manual``, no chip read) needs a second staff
member's sign-off first (`admin_ui.counter_phone_approval`); card-reader cases proceed at
once. Afterwards SMS login and SMS recovery stay closed for
``counter_phone_cooloff_seconds`` (`idp.accounts.recovery.phone_cooling_off`).
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
from idp.platform import Platform


@dataclass(frozen=True)
class PhoneChanged:
    person_id: int
    account_name: str  # the ID number, masked
    phone: str  # the new number, masked
    had_phone: bool
    notices: list[LogoutNotice] = field(default_factory=list)
    new_phone: str = ""  # in clear, only for the SMS after commit; never returned
    old_phone: str = ""  # in clear, only for the notice after commit; never returned


class PhoneDesk(CounterDesk):
    """`CounterDesk` plus the lost-phone change; the case, SMS and audit steps are its own."""

    def __init__(self, platform: Platform, *, member_id: int, actor: str, address: str,
                 hall: str = "") -> None:
        super().__init__(platform, member_id=member_id, actor=actor, address=address)
        self.hall = hall  # the clerk's department: named in the old number's notice

    def check_ready(self, case_id: str) -> CounterCase:
        """The case, if its new number was verified (else 409 ``phone_not_verified``)."""
        case = self.load(case_id)
        if not case.phone_verified or case.phone is None:
            raise CounterError("phone_not_verified", field="code")
        return case

    def change_phone(self, case_id: str, *, approved_by: str = "") -> PhoneChanged:
        """Bind the verified new number to the card holder's account (R-41).

        A manual-entry case must come through `admin_ui.counter_phone_approval` (which
        passes ``approved_by``, the second staff member's actor).
        """
        case = self.check_ready(case_id)
        if needs_approval(case) and not approved_by:
            raise CounterError("approval_required")
        case = self._pop(case.id)  # one winner
        try:
            with self.platform.db.session() as session:
                done = self._change(session, case, approved_by)
        except BaseException:
            self._save(case)  # nothing changed: the clerk may try again
            raise
        send_notices(self.platform, done.notices)
        notify(self.platform, done.new_phone, "phone_changed", {"phone": done.phone})
        if done.old_phone:  # lost or not, the owner of the old number learns of it at once
            notify(self.platform, done.old_phone, "phone_changed_counter", {
                "hall": self.hall or "政务服务大厅",
                "hotline": self.platform.settings.service_hotline})
        return done

    def _change(self, session: Session, case: CounterCase, approved_by: str) -> PhoneChanged:
        accounts = self._accounts(session)
        card = case.read
        person = self._holder(session, case)
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
                        "new_phone": mask_phone(new), "approved_by": approved_by or None,
                        "old_phone_told": bool(old)})
        record(session, "account:phone:change", person=person, address=self.address,
               method="counter", phone=mask_phone(old), new_phone=mask_phone(new))
        return PhoneChanged(person.id, masked, mask_phone(new), bool(old), notices, new,
                            old_phone=old)


def needs_approval(case: CounterCase) -> bool:
    """Typed-in card details were never read off a chip: a second staff member signs off."""
    return case.card.get("source") != "reader"

