"""The staff second factor: TOTP, enrolled at the first sign-in (issue 5 item 1, R-70).

The same choices as citizens' TOTP (`idp.accounts.totp`, whose helpers this reuses):
6 digits, 30-second steps, one step of drift, 160-bit secrets encrypted at rest, and a
code refused once its time step has been used, so a code seen over a shoulder at the
counter cannot be replayed. Staff get no recovery codes: a lost authenticator is reset by
a platform administrator (`admin_ui.staff_admin`, page 工作人员), which is audited.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from admin_ui.models import StaffTotpCredential
from idp.accounts.totp import matching_step, new_secret, normalize_code
from idp.crypto import DataProtector
from idp.db import utcnow

_CONTEXT = "staff.totp.secret"


class StaffTotp:
    """One staff member's TOTP credential over a database session (no Flask)."""

    def __init__(self, session: Session, protector: DataProtector) -> None:
        self.session = session
        self.protector = protector

    def credential(self, member_id: int) -> StaffTotpCredential | None:
        return self.session.scalars(select(StaffTotpCredential).where(
            StaffTotpCredential.staff_member_id == member_id)).one_or_none()

    def enrolled(self, member_id: int) -> bool:
        cred = self.credential(member_id)
        return cred is not None and cred.confirmed_at is not None

    def begin(self, member_id: int) -> str:
        """Start (or resume) enrolment; the secret to show once as a QR code and text.

        Refuses (`ValueError`) when a confirmed credential exists: showing its secret again
        would hand the second factor to whoever holds the password.
        """
        cred = self.credential(member_id)
        if cred is not None and cred.confirmed_at is not None:
            raise ValueError("already enrolled")
        if cred is not None:
            return self.protector.decrypt(cred.secret_enc, _CONTEXT)
        secret = new_secret()
        self.session.add(StaffTotpCredential(
            staff_member_id=member_id, secret_enc=self.protector.encrypt(secret, _CONTEXT)))
        self.session.flush()
        return secret

    def confirm(self, member_id: int, code: str) -> bool:
        """Finish enrolment with a first correct code (whose step is then spent)."""
        cred = self.credential(member_id)
        if cred is None or cred.confirmed_at is not None:
            return False
        step = matching_step(self.protector.decrypt(cred.secret_enc, _CONTEXT),
                             normalize_code(code))
        if step is None:
            return False
        cred.confirmed_at = utcnow()
        cred.last_used_step = step
        return True

    def verify(self, member_id: int, code: str) -> bool:
        """Check a code of a confirmed credential; each time step is accepted once."""
        cred = self.credential(member_id)
        if cred is None or cred.confirmed_at is None:
            return False
        step = matching_step(self.protector.decrypt(cred.secret_enc, _CONTEXT),
                             normalize_code(code))
        if step is None:
            return False
        # Conditional update: of two requests racing with one code, exactly one wins.
        won = self.session.execute(
            update(StaffTotpCredential)
            .where(StaffTotpCredential.id == cred.id,
                   StaffTotpCredential.last_used_step < step)
            .values(last_used_step=step))
        return bool(won.rowcount)  # type: ignore[attr-defined]
