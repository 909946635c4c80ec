"""Login attempts: password, SMS code, second factor — each counted and audited (R-30, R-70).

Every attempt answers with a `LoginResult`; the pages turn it into a message. The order of
checks is deliberate:

1. the source address's failure budget (stops spraying across accounts);
2. the lock on the secret (a locked password is not even compared);
3. the secret itself;
4. only then the account's status (`ensure_can_sign_in`), so whether an account is banned
   or closed is told only to someone who proved they hold its secret.

For a password, 1 and 2 are decided from one Store read after the account lookup
(`Guards.standing`, issue 2 "Performance"): the address budget is still decided first, and
a refused attempt still never reaches the hash.

Unknown login names are counted and locked like real ones and cost the same hashing time,
so answers never reveal whether an account exists.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, bindparam, select
from sqlalchemy.orm import Session

from idp.accounts.lockout import (
    Guards,
    mask_identifier,
    person_subject,
    record,
    unknown_subject,
)
from idp.accounts.models import Person, TotpCredential
from idp.accounts.recovery import COOLING_OFF, phone_cooling_off
from idp.accounts.service import Accounts, AccountUnavailable, ensure_can_sign_in
from idp.accounts.sms_codes import CheckOutcome, SmsCodes
from idp.accounts.totp import Totp, is_code_shaped, normalize_code
from idp.crypto import mask_phone
from idp.realname import agreements

MAX_IDENTIFIER = 64
MAX_PASSWORD = 128

_TOTP = TotpCredential.__table__  # type: ignore[attr-defined]
_PERSON_ID: BindParameter[int] = bindparam("person_id")


def _pending_facts(person_id: ColumnElement[int]) -> tuple[ColumnElement[Any], ...]:
    """What may still stand between a first factor and a usable session: the confirmed TOTP
    credential (`Totp.enabled`) and the latest signed agreement version
    (`agreements.needs_resign`), as two scalar subqueries."""
    return (select(_TOTP.c.confirmed_at).where(_TOTP.c.person_id == person_id)
            .scalar_subquery().label("totp_confirmed_at"),
            agreements.latest_version_query(person_id).label("agreement_version"))


# Read on their own (any first factor), or with the password login's account lookup.
_PENDING = select(*_pending_facts(_PERSON_ID))
_PENDING_WITH_PERSON = _pending_facts(Person.__table__.c.id)  # type: ignore[attr-defined]
# session.info: (person id, facts) read with the lookup, used by the next `pending_steps`.
_PREFETCHED = "accounts.login.pending_facts"


def pending_steps(session: Session, person: Person, agreement_version: str) -> list[str]:
    """The steps a session must complete after the first factor, in the order they are
    asked (idp.web.flow): second factor, forced password change, the current agreement.

    The same answers as `Totp.enabled` and `agreements.needs_resign`, read in one
    statement instead of two ORM loads — or in none when the password login read them with
    the person, earlier in this transaction (issue 2 "Performance")."""
    prefetched = session.info.pop(_PREFETCHED, None)
    if prefetched is not None and prefetched[0] == person.id:
        totp_confirmed_at, signed = prefetched[1]
    else:
        totp_confirmed_at, signed = session.execute(_PENDING, {"person_id": person.id}).one()
    pending = []
    if totp_confirmed_at is not None:
        pending.append("totp")
    if person.must_change_password:
        pending.append("password_change")
    if signed is not None and signed != agreement_version:
        pending.append("agreement")  # a new service agreement version (issue 3 item 6)
    return pending


class Outcome(enum.StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"  # wrong password / code; ``remaining`` tries left
    LOCKED = "locked"  # this secret is locked for ``retry_in`` seconds
    THROTTLED = "throttled"  # the source address spent its budget; ``retry_in`` seconds
    EXPIRED = "expired"  # no live SMS code
    UNAVAILABLE = "unavailable"  # secret right, but the account is banned or closed


@dataclass(frozen=True)
class LoginResult:
    outcome: Outcome
    person: Person | None = None
    remaining: int = 0
    retry_in: int = 0
    status: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


class Login:
    """Authentication attempts from one source address, over one database session."""

    def __init__(self, session: Session, accounts: Accounts, guards: Guards, secret_key: str,
                 address: str) -> None:
        self.session = session
        self.accounts = accounts
        self.guards = guards
        self.secret_key = secret_key
        self.address = address or "-"

    def _audit(self, action: str, person: Person | None, outcome: str, **details: object) -> None:
        record(self.session, action, person=person, address=self.address, outcome=outcome,
               **details)

    def _throttled(self, method: str, masked: str) -> LoginResult | None:
        wait = self.guards.address.blocked_for(self.address)
        if not wait:
            return None
        self._audit("account:login:failure", None, "throttled", method=method,
                    identifier=masked, reason="address_throttled")
        return LoginResult(Outcome.THROTTLED, retry_in=wait)

    def _status_check(self, person: Person, method: str) -> LoginResult | None:
        try:
            ensure_can_sign_in(person)
        except AccountUnavailable as exc:
            self._audit("account:login:failure", person, "refused", method=method,
                        reason=exc.code)
            return LoginResult(Outcome.UNAVAILABLE, person=person, status=exc.status)
        return None

    # -- password (R-30) -----------------------------------------------------------------------

    def _lookup(self, identifier: str) -> Person | None:
        """`Accounts.by_identifier`, with the pending steps' facts read in the same
        statement and kept for `pending_steps` (one round trip fewer per login; issue 2
        "Performance"). Read before the password check, in the same transaction: a second
        factor confirmed while the hash is checked counts from the next login, as one
        confirmed while the session is being saved always did."""
        self.session.info.pop(_PREFETCHED, None)
        found = self.accounts.lookup(identifier, _PENDING_WITH_PERSON)
        if found is None:
            return None
        person: Person = found[0]
        self.session.info[_PREFETCHED] = (person.id, tuple(found[1:]))
        return person

    def password(self, identifier: str, password: str) -> LoginResult:
        """One password attempt with an ID number or bound phone as the login name."""
        masked = mask_identifier(identifier)
        person = self._lookup(identifier)
        subject = (person_subject(person) if person is not None
                   else unknown_subject(self.secret_key, identifier))
        standing = self.guards.standing(self.address, self.guards.password, subject)
        if standing.address_blocked:
            self._audit("account:login:failure", None, "throttled", method="pwd",
                        identifier=masked, reason="address_throttled")
            return LoginResult(Outcome.THROTTLED,
                               retry_in=self.guards.address.retry_in(self.address))
        if standing.locked:
            self._audit("account:login:failure", person, "locked", method="pwd",
                        identifier=masked, reason="locked")
            return LoginResult(Outcome.LOCKED,
                               retry_in=self.guards.password.retry_in(subject))
        if person is None:
            self.accounts.hasher.hash(password[:MAX_PASSWORD])  # same time as a real check
            good = False
        else:
            good = self.accounts.check_password(person, password)
        if not good:
            return self._password_failed(person, subject, masked)
        if standing.failures:  # nothing to forgive otherwise: no write on a clean login
            self.guards.password.succeed(subject)
        assert person is not None
        unavailable = self._status_check(person, "pwd")
        if unavailable:
            return unavailable
        self._audit("account:login:success", person, "success", method="pwd",
                    identifier=masked)
        return LoginResult(Outcome.OK, person=person)

    def _password_failed(self, person: Person | None, subject: str, masked: str) -> LoginResult:
        self.guards.address.fail(self.address)
        left = self.guards.password.fail(subject)
        reason = "bad_password" if person is not None else "unknown_account"
        self._audit("account:login:failure", person, "failure", method="pwd",
                    identifier=masked, reason=reason)
        if left == 0:
            self._audit("account:lockout", person, "locked", method="pwd", identifier=masked)
            return LoginResult(Outcome.LOCKED, retry_in=self.guards.password.locked_for(subject))
        return LoginResult(Outcome.BAD_CREDENTIALS, remaining=left)

    def reauthenticate(self, person: Person, password: str) -> LoginResult:
        """Re-check a signed-in person's password before a sensitive change, same lockout."""
        refused = self._throttled("pwd", "")
        if refused:
            return refused
        subject = person_subject(person)
        wait = self.guards.password.locked_for(subject)
        if wait:
            return LoginResult(Outcome.LOCKED, person=person, retry_in=wait)
        if self.accounts.check_password(person, password):
            self.guards.password.succeed(subject)
            return LoginResult(Outcome.OK, person=person)
        self.guards.address.fail(self.address)
        left = self.guards.password.fail(subject)
        self._audit("account:reauth:failure", person, "failure", method="pwd")
        if left == 0:
            self._audit("account:lockout", person, "locked", method="pwd")
            return LoginResult(Outcome.LOCKED, person=person,
                               retry_in=self.guards.password.locked_for(subject))
        return LoginResult(Outcome.BAD_CREDENTIALS, person=person, remaining=left)

    # -- SMS code (R-30, R-31) -----------------------------------------------------------------

    def sms(self, codes: SmsCodes, phone: str, code: str) -> LoginResult:
        """Sign in with the bound phone and a code sent to it."""
        masked = mask_phone(phone)
        refused = self._throttled("sms", masked)
        if refused:
            return refused
        checked = codes.check(phone, code)
        person = self.accounts.by_phone(phone) if checked.ok else None
        if person is None:
            if checked.outcome is not CheckOutcome.EXPIRED:
                self.guards.address.fail(self.address)
            self._audit("account:login:failure", None, "failure", method="sms",
                        identifier=masked, reason=f"code_{checked.outcome.value}")
            if checked.outcome is CheckOutcome.WRONG and checked.remaining:
                return LoginResult(Outcome.BAD_CREDENTIALS, remaining=checked.remaining)
            return LoginResult(Outcome.EXPIRED)
        unavailable = self._status_check(person, "sms")
        if unavailable:
            return unavailable
        wait = phone_cooling_off(self.session, person,
                                 codes.settings.counter_phone_cooloff_seconds)
        if wait:  # a counter phone change is cooling off: password login only
            self._audit("account:login:failure", person, "refused", method="sms",
                        identifier=masked, reason=COOLING_OFF)
            return LoginResult(Outcome.UNAVAILABLE, person=person, retry_in=wait,
                               status=COOLING_OFF)
        self._audit("account:login:success", person, "success", method="sms",
                    identifier=masked)
        return LoginResult(Outcome.OK, person=person)

    # -- second factor (RFC 6238) ----------------------------------------------------------------

    def second_factor(self, totp: Totp, person: Person, code: str) -> LoginResult:
        """A TOTP code, or a recovery code in its place; replays and guessing are refused."""
        refused = self._throttled("otp", "")
        if refused:
            return refused
        subject = person_subject(person)
        wait = self.guards.totp.locked_for(subject)
        if wait:
            self._audit("account:mfa:failure", person, "locked", reason="locked")
            return LoginResult(Outcome.LOCKED, person=person, retry_in=wait)
        code = normalize_code(code)
        kind = "totp" if is_code_shaped(code) else "recovery_code"
        if kind == "totp":
            good = totp.verify(person, code)
        else:
            good = totp.use_recovery_code(person, code)
        if not good:
            self.guards.address.fail(self.address)
            left = self.guards.totp.fail(subject)
            self._audit("account:mfa:failure", person, "failure", kind=kind)
            if left == 0:
                self._audit("account:lockout", person, "locked", method="otp")
                return LoginResult(Outcome.LOCKED, person=person,
                                   retry_in=self.guards.totp.locked_for(subject))
            return LoginResult(Outcome.BAD_CREDENTIALS, person=person, remaining=left)
        self.guards.totp.succeed(subject)
        if kind == "recovery_code":
            self._audit("account:recovery-code:use", person, "success",
                        left=totp.recovery_codes_left(person))
        self._audit("account:mfa:success", person, "success", kind=kind)
        return LoginResult(Outcome.OK, person=person)

