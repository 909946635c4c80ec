"""The one-time enrolment code of a staff authenticator reset (issue 5 review item 2, R-70).

Without it a reset is trust-on-first-use: whoever next signs in with the password enrols
an authenticator, which is exactly the stolen-password case. So `issue` (called by
`admin_ui.staff_admin.reset_totp`) makes a random code shown once to the resetting
administrator, who hands it over out of band; only its keyed digest is stored
(`StaffTotpReset`), for ``staff_enrolment_code_ttl`` seconds. The staff member's next
console sign-in asks for it (`redeem`) before the new secret is shown; wrong codes count
against the TOTP lockout; confirming the new authenticator spends it (`spend`). An
expired code stays refused until a new reset.
"""

from __future__ import annotations

import datetime as dt
import enum
import hmac
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from admin_ui.models import StaffTotpReset
from idp.crypto import keyed_digest
from idp.db import utcnow

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone
LENGTH = 12  # 60 bits; with the lockout, far beyond guessing


class Redeemed(enum.StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    NONE = "none"  # no reset pending


def normalize(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())[:64]


def _digest(secret_key: str, member_id: int, code: str) -> str:
    return keyed_digest(secret_key, f"staff-enrol\x00{member_id}\x00{normalize(code)}")


def issue(session: Session, secret_key: str, member_id: int, *, by: str, ttl: int
          ) -> tuple[str, dt.datetime]:
    """A new code for ``member_id`` (any earlier one is void); shown once, never stored."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    expires = utcnow() + dt.timedelta(seconds=ttl)
    session.execute(delete(StaffTotpReset).where(StaffTotpReset.staff_member_id == member_id))
    session.add(StaffTotpReset(staff_member_id=member_id, reset_by=by[:128], expires_at=expires,
                               code_digest=_digest(secret_key, member_id, code)))
    session.flush()
    return "-".join(code[i:i + 4] for i in range(0, LENGTH, 4)), expires


def pending(session: Session, member_id: int) -> bool:
    return session.scalars(select(StaffTotpReset.id).where(
        StaffTotpReset.staff_member_id == member_id)).first() is not None


def redeem(session: Session, secret_key: str, member_id: int, code: str) -> Redeemed:
    """Check ``code``. The reset stays pending until the new authenticator is confirmed
    (`spend`): a sign-in that stops half-way must not leave enrolment open to the next."""
    row = session.scalars(select(StaffTotpReset).where(
        StaffTotpReset.staff_member_id == member_id)).one_or_none()
    if row is None:
        return Redeemed.NONE
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    if expires <= utcnow():
        return Redeemed.EXPIRED
    if not hmac.compare_digest(row.code_digest, _digest(secret_key, member_id, code)):
        return Redeemed.WRONG
    return Redeemed.OK


def spend(session: Session, member_id: int) -> None:
    """The new authenticator is confirmed: the code is used up."""
    session.execute(delete(StaffTotpReset).where(StaffTotpReset.staff_member_id == member_id))
