"""Console authentication: password through the directory, then TOTP, then a session.

Issue 5 item 1 and R-70, without Flask (the pages, the JSON API and tests all call this):

1. `StaffSignIn.sign_in` (idp/staff: directory or break-glass, lockout, audit);
2. the second factor: a first sign-in enrols TOTP, later ones verify it; a used step is
   refused (replay), wrong codes are counted per staff member and lock like passwords;
3. a session in the Store (`admin_ui.sessions`), re-checked against the directory every
   ``staff_recheck_seconds`` so a disabled or demoted account loses access within minutes.

Every refusal, including a role refusal (`deny`), leaves an audit record.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from admin_ui import enrolment_code
from admin_ui.sessions import StaffSession, StaffSessions
from admin_ui.totp import StaffTotp
from idp.accounts.lockout import Lockout
from idp.audit import service as audit
from idp.crypto import DataProtector
from idp.db import Database
from idp.staff.directory import DirectoryUnavailable, Source, TooManyAttempts
from idp.staff.service import SignedInStaff, StaffSignIn

log = logging.getLogger(__name__)

ENROL = "totp_enrol"
ENROL_CODE = "totp_enrol_code"  # after a reset: the one-time code before ENROL
VERIFY = "totp"


class SecondFactorError(Exception):
    """A second-factor refusal; ``code`` is stable (audit, API problem type).

    Not a `StaffAuthError`: those are the directory's refusals, each with a message in
    `idp.staff.directory.MESSAGES`; the console words these itself.
    """

    code = "totp_error"


class SecondFactorRefused(SecondFactorError):
    """Wrong, malformed or replayed TOTP code."""

    code = "totp_wrong"


class EnrolmentRequired(SecondFactorError):
    """The API cannot enrol a second factor: do it once in the console."""

    code = "totp_enrolment_required"


class EnrolmentCodeRefused(SecondFactorError):
    """Wrong enrolment code after an authenticator reset (`admin_ui.enrolment_code`)."""

    code = "enrolment_code_wrong"


class EnrolmentCodeExpired(SecondFactorError):
    """The reset's enrolment code expired: a platform administrator must reset again."""

    code = "enrolment_code_expired"


@dataclass
class ConsoleAuth:
    """The console's sign-in, second factor, sessions and refusal auditing."""

    db: Database
    protector: DataProtector
    staff: StaffSignIn
    sessions: StaffSessions
    totp_lock: Lockout
    recheck_seconds: int
    secret_key: str = ""  # keys the enrolment codes' digests

    # -- sign-in -------------------------------------------------------------------------

    def password_step(self, username: str, password: str, address: str
                      ) -> tuple[str, StaffSession]:
        """First step in the console: a pending session waiting for (or enrolling) TOTP."""
        signed = self.staff.sign_in(username, password, address=address)
        with self.db.session() as session:
            enrolled = StaffTotp(session, self.protector).enrolled(signed.member_id)
            was_reset = not enrolled and enrolment_code.pending(session, signed.member_id)
        steps = [VERIFY] if enrolled else [ENROL_CODE, ENROL] if was_reset else [ENROL]
        return self.sessions.start(signed.member_id, signed.identity, kind="console",
                                   pending=steps)

    def api_sign_in(self, username: str, password: str, code: str, address: str
                    ) -> tuple[str, StaffSession]:
        """One call for counter systems: password and TOTP together → a bearer token."""
        signed = self.staff.sign_in(username, password, address=address)
        with self.db.session() as session:
            enrolled = StaffTotp(session, self.protector).enrolled(signed.member_id)
        if not enrolled:
            self._audit_totp(signed_actor(signed), address, "staff:totp:failure", "failure",
                             reason=EnrolmentRequired.code)
            raise EnrolmentRequired()
        self._check_code(signed.member_id, signed_actor(signed), code, address, enrol=False)
        return self.sessions.start(signed.member_id, signed.identity, kind="api")

    def enrolment_secret(self, s: StaffSession) -> str:
        """The secret to show while ``s`` is enrolling (the same one until confirmed)."""
        with self.db.session() as session:
            if ENROL_CODE in s.pending:
                raise EnrolmentCodeRefused()  # never show a secret before the reset's code
            return StaffTotp(session, self.protector).begin(s.member_id)

    def second_factor(self, s: StaffSession, code: str, address: str) -> None:
        """Complete a pending session with a TOTP code (enrolment or verification).

        After a reset the first step takes the one-time enrolment code instead; the session
        then stays pending on enrolment.
        """
        if ENROL_CODE in s.pending:
            self._redeem(s, code, address)
            s.pending = [ENROL]
            self.sessions.update(s)
            return
        enrol = ENROL in s.pending
        self._check_code(s.member_id, s.actor, code, address, enrol=enrol)
        s.pending = []
        self.sessions.update(s)

    def _redeem(self, s: StaffSession, code: str, address: str) -> None:
        subject = f"m{s.member_id}"
        wait = self.totp_lock.locked_for(subject)
        if wait:
            self._audit_totp(s.actor, address, "staff:totp:enrol_code", "failure",
                             reason="locked")
            raise TooManyAttempts(wait, "totp locked")
        with self.db.session() as session:
            got = enrolment_code.redeem(session, self.secret_key, s.member_id, code)
        if got is enrolment_code.Redeemed.OK:
            self.totp_lock.succeed(subject)
            self._audit_totp(s.actor, address, "staff:totp:enrol_code", "success")
            return
        self._audit_totp(s.actor, address, "staff:totp:enrol_code", "failure",
                         reason=got.value)
        if got is enrolment_code.Redeemed.EXPIRED:
            raise EnrolmentCodeExpired()
        self.totp_lock.fail(subject)
        raise EnrolmentCodeRefused()

    def _check_code(self, member_id: int, actor: str, code: str, address: str, *,
                    enrol: bool) -> None:
        subject = f"m{member_id}"
        wait = self.totp_lock.locked_for(subject)
        if wait:
            self._audit_totp(actor, address, "staff:totp:failure", "failure", reason="locked")
            raise TooManyAttempts(wait, "totp locked")
        with self.db.session() as session:
            totp = StaffTotp(session, self.protector)
            ok = totp.confirm(member_id, code) if enrol else totp.verify(member_id, code)
            if ok and enrol:
                enrolment_code.spend(session, member_id)
            if ok:
                action = "staff:totp:enrol" if enrol else "staff:totp:success"
                audit.record(session, actor=actor, action=action, target=actor,
                             outcome="success", address=address)
        if ok:
            self.totp_lock.succeed(subject)
            return
        self.totp_lock.fail(subject)
        self._audit_totp(actor, address, "staff:totp:failure", "failure",
                         reason="wrong_or_replayed")
        raise SecondFactorRefused()

    # -- sessions ------------------------------------------------------------------------

    def current(self, token: str | None, *, kind: str) -> StaffSession | None:
        """The live session for ``token``, re-checked against the directory when due."""
        s = self.sessions.load(token, kind=kind)
        if s is None or int(time.time()) - s.checked < self.recheck_seconds:
            return s
        return self._recheck(s)

    def _recheck(self, s: StaffSession) -> StaffSession | None:
        directory = (self.staff.breakglass if s.source == Source.BREAKGLASS.value
                     else self.staff.directory)
        try:
            found = directory.lookup(s.username) if directory is not None else None
        except DirectoryUnavailable:
            log.warning("staff: directory unavailable; session of %s kept on its last roles",
                        s.username)
            return s
        if found is None or not found.roles:
            self.sign_out(s, "", reason="directory_revoked")
            return None
        s.roles = sorted(r.value for r in found.roles)
        s.department, s.checked = found.department, int(time.time())
        self.sessions.update(s)
        return s

    def sign_out(self, s: StaffSession, address: str, reason: str = "") -> None:
        self.sessions.end(s)
        with self.db.session() as session:
            audit.record(session, actor=s.actor, action="staff:logout", target=s.actor,
                         outcome="success", address=address,
                         details={"kind": s.kind, **({"reason": reason} if reason else {})})

    # -- audit ---------------------------------------------------------------------------

    def deny(self, s: StaffSession, action: str, reason: str, address: str) -> None:
        """Record a refused console action (R-53: refusals are traceable too)."""
        with self.db.session() as session:
            audit.record(session, actor=s.actor, action="admin:denied", target=action[:128],
                         outcome="denied", address=address,
                         details={"action": action, "reason": reason, "roles": s.roles,
                                  "kind": s.kind})

    def record(self, s: StaffSession, action: str, address: str, *, target: str = "",
               outcome: str = "success", details: dict[str, Any] | None = None) -> None:
        """Record a console action done by ``s`` in its own transaction."""
        with self.db.session() as session:
            audit.record(session, actor=s.actor, action=action, target=target,
                         outcome=outcome, address=address, details=details or {})

    def _audit_totp(self, actor: str, address: str, action: str, outcome: str,
                    **details: Any) -> None:
        with self.db.session() as session:
            audit.record(session, actor=actor, action=action, target=actor, outcome=outcome,
                         address=address, details=details)


def signed_actor(signed: SignedInStaff) -> str:
    return f"staff:{signed.identity.username}"[:128]
