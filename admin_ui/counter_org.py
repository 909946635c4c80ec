"""Legal-person registration at the counter (R-22): by the representative or by an agent.

The clerk first reads the REPRESENTATIVE's ID card (a counter case, population registry
checked: `idp.accounts.counter`). The representative comes in person, or an agent brings
the representative's ID card, a power of attorney and the business licence; the agent's own
ID is checked with the population registry too. The clerk enters the enterprise's credit
code, name and kind, ticks the documents checked (`REQUIRED_DOCUMENTS` per route) and
attaches scans (`idp.orgs.licence.check_image`: JPEG/PNG/PDF by magic bytes, size-capped;
the request itself may hold every scan at that cap, `upload_limit`).
The business registry then confirms code, status, name and representative, with the same
verdicts as the online opening (`idp.orgs.opening.registry_refusal`).

One transaction then: in person, the representative's personal account is created (random
password, changed at first login; the case's verified phone bound) or upgraded to level 3;
through an agent, the representative was not at the counter (the in-person check and the
SMS phone were the agent's), so the representative must already hold a personal account,
found by the ID number's blind index, which is bound as it is, its level unchanged. The
legal-person account is opened bound to it (`idp.orgs.service.Orgs.open_account`, method
``counter``); the agreement is accepted; the scans are stored encrypted
(`admin_ui.models.CounterDocumentScan`, opened only through `admin_ui.scans`); and
``admin:counter:register_org`` records the documents checked, the scans' ids and digests and
both registry references, numbers masked. Nothing is stored before every check passed.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from admin_ui.counter_phone import PhoneDesk
from admin_ui.models import CounterDocumentScan
from idp.accounts.counter import COUNTER_LEVEL, CounterCase, CounterError
from idp.accounts.models import Channel, Person
from idp.accounts.service import AccountExists, PhoneTaken, generate_password
from idp.crypto import mask_id_number
from idp.orgs import licence
from idp.orgs.models import LegalPersonKind, OpeningMethod
from idp.orgs.opening import registry_for, registry_refusal
from idp.orgs.service import NAME_MAX, OrgError, Orgs
from idp.realname import agreements
from idp.realname.documents import DocumentError, parse
from idp.realname.registration import MAX_NAME
from idp.realname.sources import (
    AuthorityRejected,
    AuthorityUnavailable,
    DocumentType,
    InvalidCheckRequest,
    Verdict,
)
from idp.realname.sources.business import EnterpriseCheck

ROUTES = ("representative", "agent")
DOCUMENTS = ("representative_id_card", "agent_id_card", "power_of_attorney",
             "business_licence")
REQUIRED_DOCUMENTS: dict[str, tuple[str, ...]] = {
    "representative": ("representative_id_card", "business_licence"),
    "agent": DOCUMENTS,
}
REQUIRED_SCANS: dict[str, tuple[str, ...]] = {
    "representative": ("business_licence",),
    "agent": ("business_licence", "power_of_attorney"),
}
KINDS = tuple(k.value for k in LegalPersonKind)
_SCAN_CONTEXT = "counter.scan"
FORM_SLACK = 64 * 1024  # the text fields, multipart framing, JSON punctuation


def upload_limit(max_scan_bytes: int, *, base64_body: bool) -> int:
    """The request size that holds a scan of every document at the scan limit.

    The app-wide cap (``MAX_CONTENT_LENGTH``) is for ordinary forms; this route alone gets
    room for its scans: raw in a multipart form, 4/3 larger as base64 in JSON.
    """
    per_scan = (max_scan_bytes + 2) // 3 * 4 if base64_body else max_scan_bytes
    return len(DOCUMENTS) * per_scan + FORM_SLACK


class OrgInputError(Exception):
    """Bad fields, all at once: ``errors`` is ``[{"field", "code"}]`` (API 422)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['code']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class OrgApplication:
    """The checked input of one legal-person counter registration."""

    credit_code: str
    name: str
    kind: str
    route: str
    documents: tuple[str, ...]
    scans: dict[str, licence.CheckedImage]
    agreement_version: str
    agent_name: str = ""
    agent_id_number: str = ""


@dataclass(frozen=True)
class OrgOpened:
    org_id: int
    credit_code: str
    name: str
    kind: str
    person_id: int
    account_name: str  # the representative's ID number, masked
    person_created: bool
    password: str | None  # a new personal account only; shown once
    route: str
    realname_level: int  # the representative's level after opening
    scans: tuple[dict[str, Any], ...] = ()  # {"id", "kind", "type", "sha256"}


def _text(raw: Mapping[str, Any], name: str, limit: int, errors: list[dict[str, str]]) -> str:
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        errors.append({"field": name, "code": "missing"})
        return ""
    if not isinstance(value, str):
        errors.append({"field": name, "code": "type"})
        return ""
    if len(value.strip()) > limit:
        errors.append({"field": name, "code": "too_long"})
        return ""
    return value.strip()


def _number(raw: Mapping[str, Any], name: str, kind: str,
            errors: list[dict[str, str]]) -> str:
    """A document number in its canonical form; a malformed one is reported under ``name``."""
    value = _text(raw, name, 32, errors)
    if value:
        try:
            return parse(kind, value).number
        except DocumentError as exc:
            errors.append({"field": name, "code": exc.code})
    return value


def parse_application(raw: Mapping[str, Any], scans: Mapping[str, bytes | None], *,
                      max_scan_bytes: int, agreement_version: str) -> OrgApplication:
    """Check every field and scan; report every problem at once (`OrgInputError`)."""
    errors: list[dict[str, str]] = []
    code = _number(raw, "credit_code", "uscc", errors)
    name = _text(raw, "name", NAME_MAX, errors)
    kind = raw.get("kind")
    if kind not in KINDS:
        errors.append({"field": "kind", "code": "invalid"})
    route = raw.get("route")
    if route not in ROUTES:
        errors.append({"field": "route", "code": "invalid"})
        route = "agent"  # check the strictest lists below
    agent_name = agent_number = ""
    if route == "agent":
        agent_name = _text(raw, "agent_name", MAX_NAME, errors)
        agent_number = _number(raw, "agent_id_number", "resident_id", errors)
    ticked = raw.get("documents")
    if not isinstance(ticked, list | tuple) or not all(isinstance(d, str) for d in ticked):
        ticked = []
    for doc in REQUIRED_DOCUMENTS[str(route)]:
        if doc not in ticked:
            errors.append({"field": f"documents.{doc}", "code": "not_checked"})
    checked: dict[str, licence.CheckedImage] = {}
    for kind_of_scan, data in scans.items():
        if kind_of_scan not in DOCUMENTS:
            errors.append({"field": f"scans.{kind_of_scan}"[:64], "code": "unknown"})
            continue
        if not data:
            continue
        try:
            checked[kind_of_scan] = licence.check_image(data, max_scan_bytes)
        except licence.LicenceImageError as exc:
            errors.append({"field": f"scans.{kind_of_scan}", "code": exc.code})
    for doc in REQUIRED_SCANS[str(route)]:
        if not scans.get(doc):
            errors.append({"field": f"scans.{doc}", "code": "image_missing"})
    if raw.get("agreement_signed") is not True:
        errors.append({"field": "agreement_signed", "code": "not_signed"})
    if raw.get("agreement_version") != agreement_version:
        errors.append({"field": "agreement_version", "code": "outdated"})
    if errors:
        raise OrgInputError(errors)
    return OrgApplication(code, name, str(kind), str(route),
                          tuple(d for d in DOCUMENTS if d in ticked), checked,
                          agreement_version, agent_name, agent_number)


def decode_scans(raw: object) -> dict[str, bytes | None]:
    """The API's ``scans`` object: document kind → base64 (a bad one is refused by type)."""
    if not isinstance(raw, Mapping):
        return {}
    found: dict[str, bytes | None] = {}
    for key, value in list(raw.items())[:len(DOCUMENTS) + 1]:
        try:
            found[str(key)] = base64.b64decode(value, validate=True) \
                if isinstance(value, str) else b"-"
        except ValueError:
            found[str(key)] = b"-"  # not base64: refused as a wrong type
    return found


class OrgDesk(PhoneDesk):
    """The counter services, plus the legal-person registration of a read card's holder."""

    def register_org(self, case_id: str, app: OrgApplication) -> OrgOpened:
        """Check the agent and the business registry, then open everything at once (R-22)."""
        case = self.load(case_id)
        if app.route == "agent" and case.card["number"] == app.agent_id_number:
            raise CounterError("agent_is_representative", field="agent_id_number")
        if app.route == "agent":
            self._require_account(case)  # before asking any registry
        agent_reference = self._check_agent(app) if app.route == "agent" else ""
        check = self._check_registry(case, app)
        agreement = agreements.load(self.platform.settings.agreement_version)
        case = self._pop(case.id)  # one winner from here on
        try:
            with self.platform.db.session() as session:
                return self._open(session, case, app, check, agent_reference, agreement)
        except BaseException:
            self._save(case)  # nothing was made: fix and try again
            raise

    # -- the registries -----------------------------------------------------------------------

    def _check_agent(self, app: OrgApplication) -> str:
        details = {"id": mask_id_number(app.agent_id_number), "check": "agent"}
        result = self._population_check("admin:counter:agent_check", details, app.agent_name,
                                        DocumentType.RESIDENT_ID, app.agent_id_number)
        if result.verdict is not Verdict.MATCH:
            raise CounterError(f"agent_{result.verdict.value}", field="agent_id_number")
        return result.reference

    def _check_registry(self, case: CounterCase, app: OrgApplication) -> EnterpriseCheck:
        registry = registry_for(self.platform)
        if registry is None:
            raise CounterError("business_registry_not_configured")
        target = f"org:{app.credit_code}"
        details: dict[str, Any] = {"method": OpeningMethod.COUNTER.value, "route": app.route,
                                   "representative": case.masked_number}
        try:
            check = registry.verify(app.credit_code, case.card["name"], case.card["number"],
                                    app.name)
        except (AuthorityUnavailable, AuthorityRejected, InvalidCheckRequest):
            self._audit("org:verify", target=target, outcome="failure",
                        details={**details, "reason": "registry_unavailable"})
            raise CounterError("business_registry_unavailable") from None
        reason = registry_refusal(check)
        if not reason and check.kind and check.kind != app.kind:
            reason = "kind_mismatch"
        self._audit("org:verify", target=target, outcome="failure" if reason else "success",
                    details={**details, "reference": check.reference,
                             **({"reason": reason} if reason else {})})
        if reason:
            raise CounterError(reason, field={"name_mismatch": "name",
                                              "kind_mismatch": "kind"}.get(reason))
        return check

    # -- one transaction ------------------------------------------------------------------------

    def _open(self, session: Session, case: CounterCase, app: OrgApplication,
              check: EnterpriseCheck, agent_reference: str,
              agreement: agreements.Agreement) -> OrgOpened:
        if app.route == "agent":
            person, password = self._require_account(case, session), None
        else:
            person, password = self._representative(session, case)
        orgs = Orgs(session)
        if orgs.by_code(app.credit_code) is not None:
            raise CounterError("org_exists")
        try:
            org = orgs.open_account(
                credit_code=app.credit_code, name=str(check.name or app.name), kind=app.kind,
                representative_person_id=person.id, opened_by=OpeningMethod.COUNTER.value,
                actor=self.actor, address=self.address)
        except OrgError as exc:
            raise CounterError("org_exists" if exc.code == "org_exists"
                               else "representative_inactive") from None
        agreements.accept(session, person.id, agreement, Channel.COUNTER.value)
        rows = [CounterDocumentScan(
            legal_person_id=org.id, kind=doc, content_type=image.content_type,
            size=len(image.data), sha256=image.sha256, staff_member_id=self.member_id,
            data_enc=self.platform.protector.encrypt(
                base64.b64encode(image.data).decode("ascii"), _SCAN_CONTEXT))
            for doc, image in app.scans.items()]
        session.add_all(rows)
        session.flush()  # the ids link the audit view and the slip to each scan
        scans = [{"id": r.id, "kind": r.kind, "type": r.content_type, "sha256": r.sha256}
                 for r in rows]
        self._audit("admin:counter:register_org", session=session,
                    target=f"org:{org.credit_code}", details={
                        "route": app.route, "documents": list(app.documents), "scans": scans,
                        "representative": case.masked_number,
                        "person": f"person:{person.id}", "person_created": password is not None,
                        "realname_level": person.realname_level,
                        "reference": check.reference, "population": case.registry_reference,
                        **({"agent": mask_id_number(app.agent_id_number),
                            "agent_reference": agent_reference} if app.route == "agent" else {}),
                        "agreement": agreement.version, "case": case.id[:8]})
        session.flush()
        return OrgOpened(org.id, org.credit_code, org.name, org.kind, person.id,
                         case.masked_number, password is not None, password, app.route,
                         person.realname_level, tuple(scans))

    def _require_account(self, case: CounterCase, session: Session | None = None) -> Person:
        """Agent route: the representative's existing, active account, left at its level."""
        if session is None:
            with self.platform.db.session() as own:
                return self._require_account(case, own)
        return self._holder(session, case, "representative_no_account")

    def _representative(self, session: Session, case: CounterCase) -> tuple[Person, str | None]:
        """The representative's account at level 3: created (password shown once) or upgraded."""
        accounts = self._accounts(session)
        card = case.read
        person = accounts.by_document(card.number, card.id_type)
        if person is not None:
            if not person.is_active:
                raise CounterError(f"account_{person.status}")
            previous = person.realname_level
            person.realname_level = max(previous, COUNTER_LEVEL)
            if previous < COUNTER_LEVEL:
                self._audit("admin:counter:upgrade", session=session,
                            target=f"person:{person.id}", details={
                                "id": case.masked_number, "from_level": previous,
                                "level": COUNTER_LEVEL, "case": case.id[:8], "for": "org"})
            return person, None
        if not case.phone_verified:  # a new personal account needs a proven phone
            raise CounterError("phone_not_verified", field="code")
        password = generate_password()
        try:
            person = accounts.create(
                id_type=card.id_type, id_number=card.number, name=card.name, phone=case.phone,
                password=password, realname_level=COUNTER_LEVEL,
                channel=Channel.COUNTER.value, must_change_password=True)
        except PhoneTaken:
            raise CounterError("phone_taken", field="phone") from None
        except AccountExists:
            raise CounterError("account_exists") from None
        self._audit("admin:counter:register", session=session, target=f"person:{person.id}",
                    details={"id": case.masked_number, "source": card.source,
                             "reference": case.registry_reference, "level": COUNTER_LEVEL,
                             "case": case.id[:8], "for": "org"})
        return person, password
