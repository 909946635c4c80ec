"""Online self-registration (R-10, R-63, R-70): name + document, two further factors,
password, service agreement — and only then an account.

The steps work on a `Registration` kept in the Store (reg_state.py), never on the
database, so an applicant who stops, or an authority that times out, leaves nothing half-made.
The account, the agreement acceptance and the audit record are written in ONE transaction at
the end (`finish`).

Abuse resistance (issue 3 item 7): a number already registered is refused before any
authority is asked; every authority check counts against a daily budget per document number
and an hourly budget per source address (so the platform cannot be used to test whether a
name matches an ID number); each check and its verdict is audited with masked numbers and
the authority's reference, nothing more. SMS codes reuse `SmsCodes` and its send limits.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from idp.accounts.models import IdType
from idp.accounts.service import (
    AccountExists,
    Accounts,
    PhoneTaken,
    check_password_strength,
)
from idp.accounts.sms_codes import CheckOutcome, SmsCodes
from idp.audit import service as audit
from idp.crypto import keyed_digest, mask_id_number, mask_phone
from idp.db import Database
from idp.passwords import PasswordHasher
from idp.ratelimit import Limit, RateLimiter
from idp.realname import agreements, documents
from idp.realname.factors import SPECS, Factor, FieldError, clean_fields, masked_fields
from idp.realname.reg_state import Registration, RegistrationError, RegistrationStates
from idp.realname.sources import (
    AuthorityError,
    AuthorityUnavailable,
    CheckResult,
    DocumentType,
    InvalidCheckRequest,
    Sources,
    Verdict,
)
from idp.settings import Settings

# Documents the population registry can verify online; the others register at a counter.
ONLINE_DOCUMENTS: dict[str, DocumentType] = {
    IdType.RESIDENT_ID.value: DocumentType.RESIDENT_ID,
    IdType.HKMO_RESIDENCE.value: DocumentType.HK_MACAO_RESIDENCE_PERMIT,
    IdType.TW_RESIDENCE.value: DocumentType.TAIWAN_RESIDENCE_PERMIT,
    IdType.FOREIGN_PERMANENT.value: DocumentType.FOREIGN_PERMANENT_RESIDENCE,
}
SELF_CHANNELS = frozenset({"web", "app", "kiosk"})
MAX_NAME = 64


@dataclass(frozen=True)
class Finished:
    person_id: int
    sub: str
    realname_level: int
    tx: str | None


def clean_name(raw: object) -> str:
    """A person's name as on the document: 1–64 printable characters, spaces folded."""
    if not isinstance(raw, str):
        raise RegistrationError("name_invalid", field="name")
    name = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not name:
        raise RegistrationError("name_missing", field="name")
    if len(name) > MAX_NAME or any(unicodedata.category(c)[0] in "CZ" and c != " "
                                   for c in name):
        raise RegistrationError("name_invalid", field="name")
    return name


class Registrations:
    """The registration steps for one request; ``address`` is the caller's IP address."""

    def __init__(self, *, db: Database, states: RegistrationStates, sources: Sources | None,
                 protector: Any, hasher: PasswordHasher, limiter: RateLimiter,
                 sms_codes: SmsCodes, settings: Settings, address: str) -> None:
        self.db = db
        self.states = states
        self.sources = sources
        self.protector = protector
        self.hasher = hasher
        self.limiter = limiter
        self.sms_codes = sms_codes
        self.settings = settings
        self.address = address
        self._per_document = Limit(
            "reg-checks-doc", settings.registration_checks_per_document_daily, 86400)
        self._per_address = Limit("reg-checks-addr",
                                  settings.registration_checks_per_address_hourly, 3600)
        # Starts, counted even when refused early, so nobody can probe numbers for free.
        self._starts = Limit("reg-starts-addr",
                             settings.registration_checks_per_address_hourly, 3600)

    # -- step 1: name and document -----------------------------------------------------------

    def start(self, *, name: object, id_type: object, id_number: object, channel: object,
              tx: str | None = None) -> Registration:
        """Check the document, refuse a registered number, then ask the population registry."""
        if not self.limiter.hit(self._starts, self.address):
            raise RegistrationError("rate_limited", retry_in=max(
                1, self.limiter.resets_in(self._starts, self.address)))
        if channel not in SELF_CHANNELS:
            raise RegistrationError("channel_invalid", field="channel")
        name = clean_name(name)
        number = self.parse_document(id_type, id_number)
        assert isinstance(id_type, str)
        if self.sources is None:
            raise RegistrationError("closed")
        self.refuse_registered(id_type, number)
        result = self._ask(number, "identity", lambda: self.sources.population.verify(  # type: ignore[union-attr]
            name, ONLINE_DOCUMENTS[id_type], number), {})
        if result.verdict is Verdict.DECEASED:
            raise RegistrationError("identity_deceased")
        if result.verdict is Verdict.CANCELLED:
            raise RegistrationError("identity_cancelled")
        if not result.matched:
            raise RegistrationError("identity_no_match")
        return self.states.new(id_type=id_type, id_number=number, name=name,
                               channel=str(channel), tx=tx)

    @staticmethod
    def parse_document(id_type: object, id_number: object) -> str:
        """The normalised number, or an error naming the wrong part (documents.parse)."""
        if id_type not in ONLINE_DOCUMENTS:
            raise RegistrationError("document_type_offline", field="id_type")
        if not isinstance(id_number, str) or not id_number.strip():
            raise RegistrationError("id_number_missing", field="id_number")
        try:
            return documents.parse(id_type, id_number[:64]).number
        except documents.DocumentError as exc:
            raise RegistrationError("id_number_invalid", field="id_number",
                                    messages=exc.messages) from None

    def refuse_registered(self, id_type: str, number: str) -> None:
        """One document number is one account (R-63); says nothing about whose it is."""
        with self.db.session() as session:
            if self._accounts(session).by_document(number, id_type) is not None:
                raise RegistrationError("already_registered")

    # -- steps 2..n: further factors -----------------------------------------------------------

    def submit_factor(self, reg_id: str, factor: str, raw: Mapping[str, object]) -> Registration:
        """Check one factor; for the phone, the carrier check is followed by an SMS code."""
        reg = self.states.load(reg_id)
        try:
            kind = Factor(factor)
        except ValueError:
            raise RegistrationError("factor_unknown", field="factor") from None
        if reg.linked is not None or kind.value in reg.factors:
            raise RegistrationError("factor_done", field="factor")
        try:
            fields = clean_fields(kind, raw)
        except FieldError as exc:
            raise RegistrationError(f"field_{exc.code}", field=exc.field) from None
        check = SPECS[kind].check
        result = self._ask(reg.id_number, kind.value,
                           lambda: check(self.sources, reg.name, reg.id_number, fields),  # type: ignore[arg-type]
                           fields, reg)
        if not result.matched:
            raise RegistrationError("factor_no_match", field="factor", authority=result.authority)
        if kind is Factor.PHONE:
            return self._send_phone_code(reg, fields["phone"], result.reference)
        reg.factors[kind.value] = result.reference
        self.states.save(reg)
        return reg

    def _send_phone_code(self, reg: Registration, phone: str, reference: str) -> Registration:
        sent = self.sms_codes.issue(phone, self.address, deliver=True)
        with self.db.session() as session:
            audit.record(session, actor="anonymous", action="sms:send", address=self.address,
                         outcome="success" if sent.ok else sent.outcome.value,
                         details={"purpose": "register", "phone": mask_phone(phone),
                                  "registration": reg.id[:8]})
        if not sent.ok:
            code = "sms_unavailable" if sent.outcome == "gateway_down" else "sms_limited"
            raise RegistrationError(code, retry_in=sent.retry_in)
        reg.phone_pending, reg.phone_reference = phone, reference
        self.states.save(reg)
        return reg

    def confirm_phone(self, reg_id: str, code: object) -> Registration:
        """Possession of the phone: the SMS code; the phone then becomes the bound phone."""
        reg = self.states.load(reg_id)
        if reg.phone_pending is None or reg.phone_reference is None:
            raise RegistrationError("code_expired", field="code")
        if not isinstance(code, str) or not code.strip() or len(code) > 16:
            raise RegistrationError("code_missing", field="code")
        checked = self.sms_codes.check(reg.phone_pending, code)
        if checked.outcome is CheckOutcome.EXPIRED:
            raise RegistrationError("code_expired", field="code")
        if not checked.ok:
            raise RegistrationError("code_wrong", field="code", remaining=checked.remaining)
        with self.db.session() as session:
            if self._accounts(session).by_phone(reg.phone_pending) is not None:
                raise RegistrationError("phone_taken", field="phone")
        reg.factors[Factor.PHONE.value] = reg.phone_reference
        reg.phone, reg.phone_pending, reg.phone_reference = reg.phone_pending, None, None
        self.states.save(reg)
        return reg

    # -- the last steps: password, agreement ---------------------------------------------------

    def set_password(self, reg_id: str, password: object) -> Registration:
        reg = self.states.load(reg_id)
        if not reg.factors_done:
            raise RegistrationError("factors_missing")
        if not isinstance(password, str) or not password:
            raise RegistrationError("password_missing", field="password")
        weak = check_password_strength(password)
        if weak or "\x00" in password:
            raise RegistrationError(weak or "password_invalid", field="password")
        reg.password_hash = self.hasher.hash(password)
        self.states.save(reg)
        return reg

    def finish(self, reg_id: str, version: object) -> Finished:
        """Sign the agreement: account + acceptance + audit in one transaction (R-10)."""
        agreement = agreements.load(self.settings.agreement_version)
        reg = self.states.load(reg_id)
        if reg.password_hash is None:
            raise RegistrationError("password_missing" if reg.factors_done
                                    else "factors_missing")
        if version != agreement.version:
            raise RegistrationError("agreement_version", field="version")
        reg = self.states.pop(reg_id)  # single winner from here on
        try:
            return self._create(reg, agreement)
        except RegistrationError as exc:
            if exc.code != "already_registered":
                self.states.save(reg)  # let the person fix it and try again
            raise
        except BaseException:
            self.states.save(reg)
            raise

    def _create(self, reg: Registration, agreement: agreements.Agreement) -> Finished:
        channel = "linked" if reg.linked is not None else reg.channel
        with self.db.session() as session:
            try:
                person = self._accounts(session).create(
                    id_type=reg.id_type, id_number=reg.id_number, name=reg.name,
                    phone=reg.phone, password_hash=reg.password_hash,
                    realname_level=reg.level, channel=channel)
            except AccountExists:
                raise RegistrationError("already_registered") from None
            except PhoneTaken:
                reg.factors.pop(Factor.PHONE.value, None)
                reg.phone = None
                raise RegistrationError("phone_taken", field="phone") from None
            agreements.accept(session, person.id, agreement, channel)
            audit.record(session, actor=person.sub, action="account:register", target=person.sub,
                         address=self.address, details={
                             "id": mask_id_number(reg.id_number), "channel": channel,
                             "level": reg.level, "factors": sorted(reg.factors),
                             "agreement": agreement.version,
                             **({"phone": mask_phone(reg.phone)} if reg.phone else {}),
                             **({"issuer": reg.linked["issuer"]} if reg.linked else {})})
            return Finished(person.id, person.sub, person.realname_level, reg.tx)

    # -- authority calls: budget, audit, failures ----------------------------------------------

    def _ask(self, number: str, check: str, call: Callable[[], CheckResult],
             fields: Mapping[str, str], reg: Registration | None = None) -> CheckResult:
        """One counted, audited authority check; failures name the authority (DESIGN.md)."""
        self.spend_budget(number)
        details = {"check": check, "id": mask_id_number(number), **masked_fields(fields)}
        if reg is not None:
            details["registration"] = reg.id[:8]
        try:
            result = call()
        except InvalidCheckRequest:
            raise RegistrationError("field_format", field="factor") from None
        except AuthorityError as exc:
            self.audit_check(exc.authority.value, "unavailable" if isinstance(
                exc, AuthorityUnavailable) else "rejected", "", details)
            raise RegistrationError("authority_unavailable",
                                    authority=exc.authority.value) from None
        self.audit_check(result.authority.value, result.verdict.value, result.reference, details)
        return result

    def spend_budget(self, number: str | None) -> None:
        """Count one authority check per address and, when known, per document number."""
        budgets = [(self._per_address, self.address)]
        if number is not None:
            budgets.append((self._per_document,
                            keyed_digest(self.settings.secret_key, f"reg-doc\x00{number}")[:40]))
        for limit, key in budgets:
            if not self.limiter.hit(limit, key):
                raise RegistrationError("rate_limited",
                                        retry_in=max(1, self.limiter.resets_in(limit, key)))

    def audit_check(self, authority: str, outcome: str, reference: str,
                     details: dict[str, Any]) -> None:
        with self.db.session() as session:
            audit.record(session, actor="anonymous", action="realname:verify",
                         target=authority, outcome=outcome, address=self.address,
                         details={**details, "authority": authority, "reference": reference})

    def _accounts(self, session: Session) -> Accounts:
        return Accounts(session, self.protector, self.hasher)
