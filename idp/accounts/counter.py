"""Counter services for natural persons: registration, upgrade, password reset (R-11, R-40, R-50).

A clerk reads the applicant's ID card (`idp.accounts.counter_card`); the platform checks
the population registry and keeps a *counter case* — encrypted in the Store, owned by the
clerk who read the card, forgotten after ``registration_ttl`` — until one service is done:

- registration: an SMS code to the applicant's phone (read out or typed on a keypad),
  the clerk confirms the written agreement was signed, then ONE transaction creates the
  account at real-name level 3, channel ``counter``, the ID number as account name and a
  random password to be changed at first login (shown once), with the agreement
  acceptance and the audit record ``admin:counter:register``;
- upgrade: the same checks for a person who already has an account: level 3, their own
  password kept, audited ``admin:counter:upgrade``;
- password reset (R-40): a random password, forced change at next login, every session
  and token ended (``idp.oidc.logout``); after commit the back-channel logout notices and
  the "password reset" SMS to the bound phone.

The case is popped before the final transaction (one winner) and put back if it fails, so
nothing is half-made and a retry works. Numbers and phones reach the audit log masked.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from idp.accounts.counter_card import CardRead
from idp.accounts.models import Channel, Person
from idp.accounts.recovery import notify
from idp.accounts.service import (
    AccountExists,
    Accounts,
    PhoneTaken,
    generate_password,
    looks_like_phone,
    normalize_phone,
)
from idp.accounts.sms_codes import CheckOutcome, SendResult, SmsCodes
from idp.audit import service as audit
from idp.crypto import DecryptionError, mask_id_number, mask_name, mask_phone, random_token
from idp.oidc.logout import LogoutNotice, end_person_sessions, send_notices
from idp.platform import Platform
from idp.realname import agreements
from idp.realname.sources import AuthorityError, AuthorityUnavailable, Verdict
from idp.realname.wiring import sources_for
from idp.store import get_json, set_json

COUNTER_LEVEL = 3  # verified in person at a counter (DESIGN.md "Assurance")
SMS_PURPOSE = "counter"
INBOX_SIZE = 10
_CONTEXT = "counter.case"


class CounterError(Exception):
    """A counter step cannot proceed; ``code`` is stable (pages, API problem type)."""

    def __init__(self, code: str, *, field: str | None = None, retry_in: int = 0,
                 remaining: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.field = field
        self.retry_in = retry_in
        self.remaining = remaining


@dataclass
class CounterCase:
    """One applicant at one counter: the card read, the registry answer, the phone."""

    id: str
    member_id: int  # the clerk who read the card; nobody else may use the case
    created: int
    card: dict[str, Any]
    registry_reference: str
    person_id: int | None = None  # an account existed when the card was read
    phone: str | None = None
    phone_verified: bool = False

    @property
    def read(self) -> CardRead:
        return CardRead(**self.card)

    @property
    def masked_number(self) -> str:
        return mask_id_number(self.card["number"])

    @property
    def masked_name(self) -> str:
        return mask_name(self.card["name"])


@dataclass(frozen=True)
class Activated:
    """The result of a registration or an upgrade; ``password`` only for a new account."""

    person_id: int
    sub: str
    account_name: str  # the ID number, masked
    realname_level: int
    upgraded: bool
    password: str | None
    agreement_version: str
    phone_bound: bool


@dataclass(frozen=True)
class PasswordReset:
    person_id: int
    account_name: str
    password: str
    notices: list[LogoutNotice] = field(default_factory=list)
    notify_phone: str | None = None


class CounterDesk:
    """The counter services one clerk (``member_id``, audit ``actor``) performs."""

    def __init__(self, platform: Platform, *, member_id: int, actor: str,
                 address: str) -> None:
        self.platform = platform
        self.member_id = member_id
        self.actor = actor
        self.address = address
        self.codes = SmsCodes(platform.store, platform.limiter, platform.sms,
                              platform.settings, purpose=SMS_PURPOSE)

    # -- the case in the Store ---------------------------------------------------------------

    def _key(self, case_id: str) -> str:
        return f"counter-case:{case_id}"

    def _inbox_key(self) -> str:
        return f"counter-inbox:{self.member_id}"

    def _ttl_left(self, case: CounterCase) -> int:
        return case.created + self.platform.settings.registration_ttl - int(time.time())

    def _save(self, case: CounterCase) -> None:
        left = self._ttl_left(case)
        if left <= 0:
            raise CounterError("case_not_found")
        token = self.platform.protector.encrypt(
            json.dumps(asdict(case), ensure_ascii=False), _CONTEXT)
        self.platform.store.set(self._key(case.id), token, left)

    def _decode(self, token: str | None) -> CounterCase:
        if token is None:
            raise CounterError("case_not_found")
        try:
            case = CounterCase(**json.loads(self.platform.protector.decrypt(token, _CONTEXT)))
        except (DecryptionError, ValueError, TypeError) as exc:
            raise CounterError("case_not_found") from exc
        if case.member_id != self.member_id:  # another clerk's applicant: not ours to see
            raise CounterError("case_not_found")
        return case

    @staticmethod
    def _valid_id(case_id: object) -> bool:
        return isinstance(case_id, str) and 16 <= len(case_id) <= 64 and case_id.isascii() \
            and case_id.replace("-", "").replace("_", "").isalnum()

    def load(self, case_id: object) -> CounterCase:
        if not self._valid_id(case_id):
            raise CounterError("case_not_found")
        return self._decode(self.platform.store.get(self._key(str(case_id))))

    def _pop(self, case_id: str) -> CounterCase:
        case = self.load(case_id)  # ownership first: never pop another clerk's case
        return self._decode(self.platform.store.pop(self._key(case.id)))

    def cases(self) -> list[CounterCase]:
        """The clerk's open cases, newest first (the agent posts; the console picks up)."""
        found = []
        for case_id in get_json(self.platform.store, self._inbox_key()) or []:
            try:
                found.append(self.load(case_id))
            except CounterError:
                continue
        return found

    def _remember(self, case: CounterCase) -> None:
        ids = [i for i in get_json(self.platform.store, self._inbox_key()) or []
               if i != case.id]
        set_json(self.platform.store, self._inbox_key(), ([case.id] + ids)[:INBOX_SIZE],
                 self.platform.settings.registration_ttl)

    # -- step 1: the card read and the population registry ----------------------------------

    def read_card(self, card: CardRead) -> CounterCase:
        """Check the card with the population registry and open a case (R-11, R-40)."""
        details = {"id": mask_id_number(card.number), "id_type": card.id_type,
                   "source": card.source, "check": "identity"}
        result = self._population_check("admin:counter:card_read", details, card.name,
                                        card.registry_type, card.number)
        if result.verdict is not Verdict.MATCH:
            raise CounterError(f"identity_{result.verdict.value}")
        with self.platform.db.session() as session:
            person = self._accounts(session).by_document(card.number, card.id_type)
            person_id = person.id if person is not None else None
        case = CounterCase(id=random_token(24), member_id=self.member_id,
                           created=int(time.time()), card=card.as_dict(),
                           registry_reference=result.reference, person_id=person_id)
        self._save(case)
        self._remember(case)
        return case

    # -- step 2: the SMS code ----------------------------------------------------------------

    def send_code(self, case_id: str, phone: object) -> SendResult:
        """Send a code to the applicant's phone; the applicant reads it to the clerk."""
        case = self.load(case_id)
        if not isinstance(phone, str) or not looks_like_phone(phone):
            raise CounterError("phone_invalid", field="phone")
        phone = normalize_phone(phone)
        with self.platform.db.session() as session:
            holder = self._accounts(session).by_phone(phone)
            if holder is not None and holder.id != case.person_id:
                raise CounterError("phone_taken", field="phone")
        sent = self.codes.issue(phone, self.address, deliver=True)
        self._audit("sms:send", outcome="success" if sent.ok else sent.outcome.value,
                    details={"purpose": SMS_PURPOSE, "phone": mask_phone(phone),
                             "case": case.id[:8]})
        if not sent.ok:
            code = "sms_unavailable" if sent.outcome == "gateway_down" else "sms_limited"
            raise CounterError(code, retry_in=sent.retry_in)
        case.phone, case.phone_verified = phone, False
        self._save(case)
        return sent

    def verify_code(self, case_id: str, code: object) -> CounterCase:
        """The code the applicant read out: proves the phone is theirs and they consent."""
        case = self.load(case_id)
        if case.phone is None:
            raise CounterError("code_expired", field="code")
        if not isinstance(code, str) or not code.strip() or len(code) > 16:
            raise CounterError("code_missing", field="code")
        checked = self.codes.check(case.phone, code)
        if checked.outcome is CheckOutcome.EXPIRED:
            raise CounterError("code_expired", field="code")
        if not checked.ok:
            raise CounterError("code_wrong", field="code", remaining=checked.remaining)
        case.phone_verified = True
        self._save(case)
        return case

    # -- step 3: activate (or upgrade) -------------------------------------------------------

    def activate(self, case_id: str, *, agreement_signed: object,
                 agreement_version: object) -> Activated:
        """Open the account at level 3, or upgrade the existing one (R-11, R-50)."""
        agreement = agreements.load(self.platform.settings.agreement_version)
        case = self.load(case_id)
        if not case.phone_verified:
            raise CounterError("phone_not_verified", field="code")
        if agreement_signed is not True:
            raise CounterError("agreement_not_signed", field="agreement_signed")
        if agreement_version != agreement.version:
            raise CounterError("agreement_version", field="agreement_version")
        case = self._pop(case.id)  # one winner from here on
        try:
            with self.platform.db.session() as session:
                return self._activate(session, case, agreement)
        except BaseException:
            self._save(case)  # nothing was made: the clerk may fix it and try again
            raise

    def _activate(self, session: Session, case: CounterCase,
                  agreement: agreements.Agreement) -> Activated:
        accounts = self._accounts(session)
        card = case.read
        person = accounts.by_document(card.number, card.id_type)
        if person is not None:
            return self._upgrade(session, accounts, person, case, agreement)
        password = generate_password()
        try:
            person = accounts.create(
                id_type=card.id_type, id_number=card.number, name=card.name,
                phone=case.phone, password=password, realname_level=COUNTER_LEVEL,
                channel=Channel.COUNTER.value, must_change_password=True)
        except PhoneTaken:
            raise CounterError("phone_taken", field="phone") from None
        except AccountExists:  # registered elsewhere a moment ago: upgrade on the next try
            raise CounterError("account_exists") from None
        agreements.accept(session, person.id, agreement, Channel.COUNTER.value)
        self._audit("admin:counter:register", session=session, target=f"person:{person.id}",
                    details=self._details(case, agreement))
        return Activated(person.id, person.sub, mask_id_number(card.number), COUNTER_LEVEL,
                         False, password, agreement.version, True)

    def _upgrade(self, session: Session, accounts: Accounts, person: Person,
                 case: CounterCase, agreement: agreements.Agreement) -> Activated:
        if not person.is_active:
            raise CounterError(f"account_{person.status}")
        bound = False
        if person.phone_index is None and case.phone is not None:
            try:
                accounts.change_phone(person, case.phone)
                bound = True
            except PhoneTaken:
                raise CounterError("phone_taken", field="phone") from None
        previous = person.realname_level
        person.realname_level = max(previous, COUNTER_LEVEL)
        agreements.accept(session, person.id, agreement, Channel.COUNTER.value)
        self._audit("admin:counter:upgrade", session=session, target=f"person:{person.id}",
                    details={**self._details(case, agreement), "from_level": previous,
                             "phone_bound": bound})
        session.flush()
        return Activated(person.id, person.sub, mask_id_number(case.card["number"]),
                         person.realname_level, True, None, agreement.version, bound)

    # -- password reset (R-40) ---------------------------------------------------------------

    def reset_password(self, case_id: str) -> PasswordReset:
        """A new random password for the card holder; every session ends (R-40)."""
        case = self.load(case_id)
        case = self._pop(case.id)
        try:
            with self.platform.db.session() as session:
                result = self._reset(session, case)
        except BaseException:
            self._save(case)
            raise
        self._after_reset(result)  # committed: now the slow, fallible notices
        return result

    def _reset(self, session: Session, case: CounterCase) -> PasswordReset:
        accounts = self._accounts(session)
        card = case.read
        person = self._holder(session, case)
        password = accounts.issue_random_password(person)  # bumps the epoch
        notices = end_person_sessions(self.platform, session, person, "password_reset",
                                      actor=self.actor)
        masked = mask_id_number(card.number)
        details = {"id": masked, "source": card.source, "reference": case.registry_reference,
                   "case": case.id[:8]}
        self._audit("admin:counter:password_reset", session=session,
                    target=f"person:{person.id}", details=details)
        # Also in the person's own history (idp.accounts.history), like an online reset.
        self._audit("account:password:reset", session=session, target=f"person:{person.id}",
                    details={"method": "counter"})
        return PasswordReset(person.id, masked, password, notices, accounts.phone(person))

    def _after_reset(self, result: PasswordReset) -> None:
        """After commit: back-channel logout, then the "password reset" SMS (R-40)."""
        send_notices(self.platform, result.notices)
        if result.notify_phone:
            notify(self.platform, result.notify_phone, "password_reset", {})

    # -- helpers -------------------------------------------------------------------------------

    def _accounts(self, session: Session) -> Accounts:
        return Accounts(session, self.platform.protector, self.platform.hasher)

    def _holder(self, session: Session, case: CounterCase, missing: str = "no_account") -> Person:
        """The card holder's account, refused when there is none or it is not active."""
        person = self._accounts(session).by_document(case.read.number, case.read.id_type)
        if person is None:
            raise CounterError(missing)
        if not person.is_active:
            raise CounterError(f"account_{person.status}")
        return person

    def _population_check(self, action: str, details: dict[str, Any], name: str,
                          id_type: Any, number: str) -> Any:
        """Ask the population registry (R-11), auditing the answer or the outage as ``action``;
        the caller decides what a verdict other than a match means."""
        sources = sources_for(self.platform)
        if sources is None:
            raise CounterError("registry_not_configured")
        try:
            result = sources.population.verify(name, id_type, number)
        except AuthorityError as exc:
            outcome = "unavailable" if isinstance(exc, AuthorityUnavailable) else "rejected"
            self._audit(action, outcome=outcome, details=details)
            raise CounterError("registry_unavailable") from None
        self._audit(action, outcome=result.verdict.value,
                    details={**details, "reference": result.reference})
        return result

    def _details(self, case: CounterCase, agreement: agreements.Agreement) -> dict[str, Any]:
        return {"id": case.masked_number, "id_type": case.card["id_type"],
                "source": case.card["source"], "reference": case.registry_reference,
                "level": COUNTER_LEVEL, "agreement": agreement.version,
                "phone": mask_phone(case.phone or ""), "case": case.id[:8]}

    def _audit(self, action: str, *, session: Session | None = None, target: str = "",
               outcome: str = "success", details: dict[str, Any] | None = None) -> None:
        if session is not None:
            audit.record(session, actor=self.actor, action=action, target=target,
                         outcome=outcome, address=self.address, details=details or {})
            return
        with self.platform.db.session() as own:
            audit.record(own, actor=self.actor, action=action, target=target,
                         outcome=outcome, address=self.address, details=details or {})
