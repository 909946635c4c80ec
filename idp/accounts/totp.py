"""TOTP second factor and recovery codes (RFC 6238, R-70).

Warehouse's choices (STYLE.md): 6 digits, 30-second steps, one step of clock drift either
way, 160-bit secrets (RFC 4226 §4 recommends 160 bits), and a code refused once its time
step has been used, so a code seen over a shoulder cannot be replayed. Secrets are
encrypted at rest; recovery codes are stored as keyed digests and each works once.
"""

from __future__ import annotations

import base64
import io
import secrets
import time

import pyotp
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from idp.accounts.models import Person, RecoveryCode, TotpCredential
from idp.crypto import DataProtector, keyed_digest
from idp.db import utcnow

DIGITS = 6
PERIOD = 30
DRIFT_STEPS = 1
SECRET_BYTES = 20  # 160 bits
RECOVERY_CODES = 10
_SECRET_CONTEXT = "totp.secret"
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)


class TotpError(Exception):
    """An enrolment operation that does not fit the credential's state."""

    code = "totp_error"


class AlreadyEnrolled(TotpError):
    code = "totp_already_enrolled"


class NotEnrolling(TotpError):
    code = "totp_not_enrolling"


def new_secret() -> str:
    """A fresh base32 secret of 160 bits."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode()


def is_code_shaped(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def normalize_code(code: str) -> str:
    """Drop spaces people type between digit groups."""
    return "".join(code.split())


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app scans (Key Uri Format)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
        name=account, issuer_name=issuer)


def qr_data_uri(text: str) -> str:
    """An SVG QR code as a ``data:`` URI: CSP allows ``img-src data:``, not inline SVG styles."""
    # Imported here, not at module level: qrcode pulls in PIL and lxml, ≈ 8 MiB RSS in every
    # worker, and only enrolment and the QR sign-in page draw codes (worker RSS, issue 2).
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code equals ``code`` within the drift window, else None."""
    if not is_code_shaped(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    current = int((time.time() if now is None else now) // PERIOD)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def normalize_recovery_code(code: str) -> str:
    return "".join(c for c in code.lower() if c.isalnum())


class Totp:
    """A person's TOTP credential and recovery codes over one database session."""

    def __init__(self, session: Session, protector: DataProtector, secret_key: str) -> None:
        self.session = session
        self.protector = protector
        self.secret_key = secret_key

    def credential(self, person: Person) -> TotpCredential | None:
        return self.session.scalars(select(TotpCredential).where(
            TotpCredential.person_id == person.id)).one_or_none()

    def enabled(self, person: Person) -> bool:
        cred = self.credential(person)
        return cred is not None and cred.confirmed_at is not None

    def secret(self, cred: TotpCredential) -> str:
        return self.protector.decrypt(cred.secret_enc, _SECRET_CONTEXT)

    def begin(self, person: Person) -> str:
        """Start (or resume) enrolment; return the secret to show once as QR and text."""
        cred = self.credential(person)
        if cred is not None and cred.confirmed_at is not None:
            raise AlreadyEnrolled()
        if cred is not None:
            return self.secret(cred)
        secret = new_secret()
        self.session.add(TotpCredential(
            person_id=person.id, secret_enc=self.protector.encrypt(secret, _SECRET_CONTEXT)))
        self.session.flush()
        return secret

    def confirm(self, person: Person, code: str) -> list[str] | None:
        """Finish enrolment with a first code; return fresh recovery codes, None if wrong."""
        cred = self.credential(person)
        if cred is None or cred.confirmed_at is not None:
            raise NotEnrolling()
        step = matching_step(self.secret(cred), normalize_code(code))
        if step is None:
            return None
        cred.confirmed_at = utcnow()
        cred.last_used_step = step
        return self.new_recovery_codes(person)

    def verify(self, person: Person, code: str) -> bool:
        """Check a code of a confirmed credential; each time step is accepted once."""
        cred = self.credential(person)
        if cred is None or cred.confirmed_at is None:
            return False
        step = matching_step(self.secret(cred), normalize_code(code))
        if step is None:
            return False
        # Conditional update: of two requests racing with the same code, one wins.
        won = self.session.execute(
            update(TotpCredential)
            .where(TotpCredential.id == cred.id, TotpCredential.last_used_step < step)
            .values(last_used_step=step))
        self.session.refresh(cred)
        return bool(won.rowcount)  # type: ignore[attr-defined]

    def disable(self, person: Person) -> None:
        self.session.execute(delete(TotpCredential).where(TotpCredential.person_id == person.id))
        self.session.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person.id))

    # -- recovery codes ------------------------------------------------------------------------

    def _digest(self, code: str) -> str:
        return keyed_digest(self.secret_key, "recovery\x00" + normalize_recovery_code(code))

    def new_recovery_codes(self, person: Person) -> list[str]:
        """Replace the person's recovery codes; the clear codes are shown once, never stored."""
        self.session.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person.id))
        codes = []
        for _ in range(RECOVERY_CODES):
            raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
            codes.append(f"{raw[:5]}-{raw[5:]}")
        self.session.add_all(RecoveryCode(person_id=person.id, code_digest=self._digest(c))
                             for c in codes)
        self.session.flush()
        return codes

    def use_recovery_code(self, person: Person, code: str) -> bool:
        """Spend one unused recovery code in place of a TOTP code."""
        if not 8 <= len(normalize_recovery_code(code)) <= 32:
            return False
        used = self.session.execute(
            update(RecoveryCode)
            .where(RecoveryCode.person_id == person.id,
                   RecoveryCode.code_digest == self._digest(code),
                   RecoveryCode.used_at.is_(None))
            .values(used_at=utcnow()))
        return bool(used.rowcount)  # type: ignore[attr-defined]

    def recovery_codes_left(self, person: Person) -> int:
        return int(self.session.scalar(select(func.count()).select_from(RecoveryCode).where(
            RecoveryCode.person_id == person.id, RecoveryCode.used_at.is_(None))) or 0)
