"""Opening a legal-person account online, and changing its representative (R-20, R-21, R-23).

Two steps, so nothing is half-made:

1. **Verification** establishes the enterprise and that the signed-in person is its legal
   representative, by one of four methods — (a) the business registry alone; (b) licence
   data plus a licence image, compared with the registry; (c) an electronic business licence
   verified against the issuer key; (d) an enterprise CA certificate chain, proven by a
   signed challenge. Every method ends with the business registry confirming the code, its
   status and the representative (the person's name and ID number, which the platform
   holds). The result, `Evidence`, is kept in the Store for `EVIDENCE_TTL` under a random id,
   bound to the person. Nothing is written but the audit record.
2. **Completion**: the person signs the current agreement (idp/realname/agreements) and, in
   one transaction, the account is opened bound to them (`Orgs.open_account`) — or, when the
   code already has an account, the representative is changed
   (`idp.delegation.representative.change_representative`) and the previous
   representative's grants are put under review until ``org_review_days``.

Every attempt is audited with masked personal numbers (R-53, R-70).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.audit import service as audit
from idp.crypto import mask_id_number, random_token
from idp.db import utcnow
from idp.delegation.errors import DelegationError
from idp.delegation.models import Grant
from idp.delegation.representative import change_representative, pending_review
from idp.delegation.service import Delegation
from idp.orgs import certificates, elicence, licence
from idp.orgs.models import LegalPerson, OpeningMethod
from idp.orgs.service import OrgError, Orgs
from idp.ratelimit import Limit
from idp.realname import agreements
from idp.realname.documents import DocumentError, parse
from idp.realname.sources import AuthorityRejected, AuthorityUnavailable, InvalidCheckRequest
from idp.realname.sources.business import BusinessRegistry, EnterpriseCheck
from idp.store import get_json, set_json

if TYPE_CHECKING:
    from idp.platform import Platform

log = logging.getLogger(__name__)

EVIDENCE_TTL = 30 * 60
CHALLENGE_TTL = 5 * 60
DAY = 86400


# code: (HTTP status, zh, en). Codes of the checking modules are prefixed and reuse their texts.
MESSAGES: dict[str, tuple[int, str, str]] = {
    "invalid_credit_code": (422, "统一社会信用代码无效", "The unified social credit code is "
                            "invalid"),
    "invalid_name": (422, "请填写营业执照上的单位名称", "Enter the name on the licence"),
    "representative_mismatch": (422, "证照上的法定代表人与您的实名信息不一致",
                                "The representative on the licence is not you"),
    "challenge_invalid": (422, "挑战码无效或已过期,请重新获取",
                          "The challenge is unknown or expired; get a new one"),
    "too_many_checks": (429, "今日核验次数过多,请明天再试", "Too many checks today; try "
                        "again tomorrow"),
    "registry_not_configured": (503, "平台尚未接入登记机关,暂不能在线开户",
                                "The business registry is not configured"),
    "registry_unavailable": (503, "登记机关核验服务暂不可用,请稍后再试;未保存任何信息",
                             "The business registry is unavailable; nothing was saved — try "
                             "again later"),
    "org_not_registered": (422, "登记机关未查到该统一社会信用代码",
                           "The registry has no organisation with this credit code"),
    "org_not_active": (422, "该单位已被吊销或注销,不能开户",
                       "The organisation's registration is revoked or cancelled"),
    "not_representative": (403, "登记机关记录的法定代表人不是您,请由法定代表人本人办理",
                           "The registry does not list you as the legal representative"),
    "name_mismatch": (422, "单位名称与登记机关的记录不一致",
                      "The name does not match the registry's record"),
    "evidence_not_found": (404, "核验结果不存在或已过期,请重新核验",
                           "The verification is unknown or expired; verify again"),
    "org_exists": (409, "该统一社会信用代码已开户;如法定代表人已变更,请办理法定代表人变更",
                   "An account already exists for this credit code; if the representative "
                   "has changed, use the change of representative instead"),
    "org_not_found": (404, "该统一社会信用代码尚未开户,请先开户",
                      "No account exists for this credit code yet; open one first"),
    "same_representative": (409, "您已是该单位的法定代表人", "You already are the "
                            "representative"),
    "representative_inactive": (403, "您的个人账户不可用", "Your personal account is not "
                                "active"),
}
_MODULES = {"elicence_": elicence.MESSAGES, "certificate_": certificates.MESSAGES}
_UNAVAILABLE = {"elicence_not_configured", "certificate_not_configured",
                "certificate_crl_unavailable"}


class OpeningError(Exception):
    """A refused step; nothing was stored but its audit record."""

    def __init__(self, code: str, *, detail: DocumentError | None = None,
                 retry_in: int = 0) -> None:
        super().__init__(code)
        self.code, self.retry_in = code, retry_in
        if code in MESSAGES:
            self.status, zh, en = MESSAGES[code]
        elif code in licence.MESSAGES:
            zh, en = licence.MESSAGES[code]
            self.status = 413 if code == "image_too_large" else 422
        else:
            prefix = next(p for p in _MODULES if code.startswith(p))
            zh, en = _MODULES[prefix][code.removeprefix(prefix)]
            self.status = 503 if code in _UNAVAILABLE else 422
        if detail is not None:  # say which part of the code is wrong
            zh, en = f"{zh}:{detail.messages['zh']}", f"{en}: {detail.messages['en']}"
        self.messages = {"zh": zh, "en": en}
        self.message = zh


def registry_refusal(check: EnterpriseCheck) -> str:
    """Why the registry's answer refuses an opening ("" when it does not); also used by the
    counter route (admin_ui.counter_org, R-22)."""
    return ("org_not_registered" if not check.found else "org_not_active"
            if not check.active else "not_representative"
            if not check.representative_matched else "name_mismatch"
            if check.name_matched is False else "")


def same_name(a: str, b: str) -> bool:
    """Names as registries compare them: trimmed; Latin names case- and space-blind."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@dataclass(frozen=True)
class Evidence:
    """A successful verification, waiting for the agreement (kept in the Store)."""

    id: str
    person_id: int
    method: str
    credit_code: str
    name: str
    kind: str
    reference: str  # the business registry's reference, for audit
    details: dict[str, str] = field(default_factory=dict)  # method-specific, nothing personal
    image: str = ""  # base64 licence image (remote comparison only)
    image_type: str = ""


@dataclass(frozen=True)
class Completed:
    """The outcome of completion: the account, and for a change the grants under review."""

    org: LegalPerson
    changed: bool
    review: tuple[Grant, ...] = ()
    review_deadline: dt.datetime | None = None


class Opening:
    """The online opening flows for one request (no Flask: pages and API share it)."""

    def __init__(self, platform: Platform, registry: BusinessRegistry | None, *, address: str,
                 clock: Callable[[], dt.datetime] = utcnow,
                 crl_fetch: certificates.Fetch = certificates.http_fetch) -> None:
        self.p = platform
        self.settings = platform.settings
        self.registry = registry
        self.address = address
        self.clock = clock
        self.crl_fetch = crl_fetch

    # -- (a) representative activation -------------------------------------------------

    def by_registry(self, person_id: int, credit_code: str) -> Evidence:
        """(a) The registry confirms code, name and that the person is the representative."""
        method = OpeningMethod.REPRESENTATIVE_ONLINE.value
        code = self._code(person_id, method, credit_code)
        check = self._confirm(person_id, method, code)
        return self._evidence(person_id, method, check, code)

    # -- (b) remote comparison ------------------------------------------------------------

    def by_licence(self, person_id: int, credit_code: str, name: str, representative: str,
                   image: bytes | None) -> Evidence:
        """(b) Licence fields + image, compared with the registry (R-21)."""
        method = OpeningMethod.REMOTE_COMPARISON.value
        code = self._code(person_id, method, credit_code)
        name = (name or "").strip()
        if not name or len(name) > 200:
            self._fail(person_id, method, OpeningError("invalid_name"), code)
        try:
            checked = licence.check_image(image, self.settings.licence_image_max_bytes)
        except licence.LicenceImageError as exc:
            self._fail(person_id, method, OpeningError(exc.code), code)
        self._same_person(person_id, method, representative, code)
        check = self._confirm(person_id, method, code, name=name)
        return self._evidence(person_id, method, check, code,
                              details={"image_sha256": checked.sha256},
                              image=base64.b64encode(checked.data).decode("ascii"),
                              image_type=checked.content_type)

    # -- (c) electronic business licence ------------------------------------------------

    def by_elicence(self, person_id: int, token: str) -> Evidence:
        """(c) A licence document signed by the configured issuer (ES256 JWS)."""
        method = OpeningMethod.E_LICENCE.value
        keys = self._cached("elicence_keys", lambda: elicence.load_issuer_keys(
            self.settings.elicence_issuer_jwks))
        try:
            lic = elicence.verify(token, keys, issuer=self.settings.elicence_issuer,
                                  now=self.clock())
        except elicence.ELicenceError as exc:
            self._fail(person_id, method, OpeningError(f"elicence_{exc.code}"))
        self._same_person(person_id, method, lic.representative, lic.credit_code)
        check = self._confirm(person_id, method, lic.credit_code, name=lic.name)
        return self._evidence(person_id, method, check, lic.credit_code,
                              details={"issuer": lic.issuer[:100], "kid": lic.key_id[:64]})

    # -- (d) enterprise CA certificate ------------------------------------------------------

    def certificate_challenge(self, person_id: int) -> str:
        """A one-time text the applicant signs with the certificate's key (proof of possession)."""
        challenge = f"idp-org-certificate:{random_token(24)}"
        self.p.store.set(self._challenge_key(person_id, challenge), "1", CHALLENGE_TTL)
        return challenge

    def by_certificate(self, person_id: int, chain_pem: str, challenge: str,
                       signature: str) -> Evidence:
        """(d) Chain to a configured root, unrevoked, right usage, key proven (R-23)."""
        method = OpeningMethod.CA_CERTIFICATE.value
        if not isinstance(challenge, str) or len(challenge) > 128 \
                or self.p.store.pop(self._challenge_key(person_id, challenge)) is None:
            self._fail(person_id, method, OpeningError("challenge_invalid"))
        try:
            verified = self._verify_certificate(chain_pem, challenge, signature)
        except certificates.CertificateError as exc:
            self._fail(person_id, method, OpeningError(f"certificate_{exc.code}"))
        details = {"serial": verified.serial, "fingerprint": verified.fingerprint,
                   "issuer": verified.leaf.issuer.rfc4514_string()[:200]}
        check = self._confirm(person_id, method, verified.credit_code)
        return self._evidence(person_id, method, check, verified.credit_code, details=details)

    def _verify_certificate(self, chain_pem: str, challenge: str,
                            signature: str) -> certificates.VerifiedCertificate:
        chain = certificates.load_pem_chain(chain_pem)
        certificates.verify_possession(chain[0], challenge, signature)
        roots = self._cached("org_ca_roots", lambda: certificates.load_roots(
            self.settings.org_ca_roots))
        if not roots:
            raise certificates.CertificateError("not_configured")
        crls = certificates.load_crls(self.settings.org_crl_sources,
                                      self.settings.org_crl_timeout_ms / 1000, self.crl_fetch)
        return certificates.verify_chain(chain, roots, crls, self.clock())

    # -- completion ---------------------------------------------------------------------

    def evidence(self, person_id: int, evidence_id: str) -> Evidence:
        """The person's pending verification, or ``evidence_not_found``."""
        raw = get_json(self.p.store, self._evidence_key(evidence_id)) \
            if isinstance(evidence_id, str) and 0 < len(evidence_id) <= 64 else None
        if not isinstance(raw, dict) or raw.get("person_id") != person_id:
            raise OpeningError("evidence_not_found")
        return Evidence(**raw)

    def existing(self, evidence: Evidence) -> LegalPerson | None:
        with self.p.db.session() as s:
            return Orgs(s).by_code(evidence.credit_code)

    def open(self, person_id: int, evidence_id: str, *, channel: str) -> Completed:
        """Sign the agreement and open the account bound to the person (R-20, R-63)."""
        ev = self.evidence(person_id, evidence_id)
        agreement = agreements.load(self.settings.agreement_version)
        try:
            with self.p.db.session() as s:
                actor = self._actor(s, person_id)
                orgs = Orgs(s)
                if orgs.by_code(ev.credit_code) is not None:
                    raise OpeningError("org_exists")
                org = orgs.open_account(credit_code=ev.credit_code, name=ev.name, kind=ev.kind,
                                        representative_person_id=person_id,
                                        opened_by=ev.method, actor=actor, address=self.address)
                self._sign(s, org, ev, agreement, channel, actor)
        except OrgError as exc:
            raise OpeningError("org_exists" if exc.code == "org_exists"
                               else "representative_inactive") from None
        self.p.store.delete(self._evidence_key(ev.id))
        return Completed(org, changed=False)

    def change(self, person_id: int, evidence_id: str, *, channel: str) -> Completed:
        """Make the verified person the representative; list the old grants (R-21)."""
        ev = self.evidence(person_id, evidence_id)
        agreement = agreements.load(self.settings.agreement_version)
        deadline = self.clock() + dt.timedelta(days=max(1, self.settings.org_review_days))
        try:
            with self.p.db.session() as s:
                actor = self._actor(s, person_id)
                org = Orgs(s).by_code(ev.credit_code)
                if org is None:
                    raise OpeningError("org_not_found")
                if org.representative_person_id == person_id:
                    raise OpeningError("same_representative")
                d = Delegation.from_platform(s, self.p)
                d.clock = self.clock
                change_representative(d, org.id, person_id, deadline=deadline,
                                      method=ev.method, actor=actor, address=self.address)
                org = d.orgs.get(org.id)
                self._sign(s, org, ev, agreement, channel, actor)
                review = tuple(pending_review(d, org.id))
        except (OrgError, DelegationError) as exc:
            raise OpeningError("same_representative" if exc.code == "same_representative"
                               else "representative_inactive") from None
        self.p.store.delete(self._evidence_key(ev.id))
        return Completed(org, changed=True, review=review, review_deadline=deadline)

    def _sign(self, s: Any, org: LegalPerson, ev: Evidence, agreement: agreements.Agreement,
              channel: str, actor: str) -> None:
        """Record the agreement, the licence image and the evidence with the account."""
        agreements.accept(s, org.representative_person_id, agreement, channel)
        if ev.image:
            licence.store_image(s, licence.CheckedImage(
                base64.b64decode(ev.image), ev.image_type, "", ev.details.get(
                    "image_sha256", "")), org.id, org.representative_person_id)
        audit.record(s, actor=actor, action="org:agreement", target=f"org:{org.credit_code}",
                     address=self.address, details={
                         "version": agreement.version, "sha256": agreement.sha256,
                         "channel": channel, "method": ev.method, "reference": ev.reference,
                         **ev.details})

    # -- shared steps ---------------------------------------------------------------------

    def _code(self, person_id: int, method: str, credit_code: object) -> str:
        try:
            return parse("uscc", credit_code if isinstance(credit_code, str) else "").number
        except DocumentError as exc:
            self._fail(person_id, method, OpeningError("invalid_credit_code", detail=exc))

    def _person(self, person_id: int) -> tuple[str, str, str]:
        """(name, ID number, sub) of an active person — decrypted only for the check."""
        with self.p.db.session() as s:
            person = s.get(Person, person_id)
            if person is None or not person.is_active:
                raise OpeningError("representative_inactive")
            accounts = Accounts(s, self.p.protector, self.p.hasher)
            return accounts.name(person), accounts.id_number(person), person.sub

    def _same_person(self, person_id: int, method: str, representative: object,
                     code: str) -> None:
        name = self._person(person_id)[0]
        if not isinstance(representative, str) or not same_name(representative, name):
            self._fail(person_id, method, OpeningError("representative_mismatch"), code)

    def _confirm(self, person_id: int, method: str, code: str,
                 name: str | None = None) -> EnterpriseCheck:
        """Ask the business registry; every refusal is audited and explained."""
        rep_name, rep_number, _ = self._person(person_id)
        limit = Limit("org_checks", self.settings.org_checks_per_person_daily, DAY)
        if not self.p.limiter.hit(limit, str(person_id)):
            self._fail(person_id, method, OpeningError(
                "too_many_checks", retry_in=self.p.limiter.resets_in(limit, str(person_id))),
                code)
        if self.registry is None:
            self._fail(person_id, method, OpeningError("registry_not_configured"), code)
        try:
            check = self.registry.verify(code, rep_name, rep_number, name)
        except (AuthorityUnavailable, AuthorityRejected) as exc:
            log.warning("business registry failed for %s: %s", code, exc.code or exc)
            self._fail(person_id, method, OpeningError("registry_unavailable"), code)
        except InvalidCheckRequest:
            self._fail(person_id, method, OpeningError("invalid_credit_code"), code)
        reason = registry_refusal(check)
        if reason:
            self._fail(person_id, method, OpeningError(reason), code, check.reference,
                       masked=mask_id_number(rep_number))
        return check

    def _evidence(self, person_id: int, method: str, check: EnterpriseCheck, code: str,
                  details: dict[str, str] | None = None, **image: str) -> Evidence:
        ev = Evidence(random_token(24), person_id, method, code, str(check.name),
                      str(check.kind), check.reference, details or {}, **image)
        set_json(self.p.store, self._evidence_key(ev.id), dataclasses.asdict(ev), EVIDENCE_TTL)
        self._audit(person_id, method, code, "success", reference=check.reference,
                    **(details or {}))
        return ev

    def _fail(self, person_id: int, method: str, error: OpeningError, code: str = "",
              reference: str = "", masked: str = "") -> NoReturn:
        details = {"reason": error.code, "reference": reference}
        if masked:
            details["representative"] = masked
        self._audit(person_id, method, code, "failure", **details)
        raise error

    def _audit(self, person_id: int, method: str, code: str, outcome: str,
               **details: str) -> None:
        with self.p.db.session() as s:
            audit.record(s, actor=self._actor(s, person_id), action="org:verify",
                         target=f"org:{code}" if code else "", outcome=outcome,
                         address=self.address, details={"method": method, **details})

    @staticmethod
    def _actor(s: Any, person_id: int) -> str:
        person = s.get(Person, person_id)
        return f"person:{person.sub}" if person is not None else f"person-id:{person_id}"

    def _cached(self, name: str, build: Callable[[], Any]) -> Any:
        if name not in self.p.services:
            self.p.services[name] = build()
        return self.p.services[name]

    @staticmethod
    def _evidence_key(evidence_id: str) -> str:
        return f"org:evidence:{evidence_id}"

    @staticmethod
    def _challenge_key(person_id: int, challenge: str) -> str:
        return f"org:challenge:{person_id}:{challenge}"


def registry_for(platform: Platform) -> BusinessRegistry | None:
    """The business registry client (``business_registry_url`` or the authority gateway),
    built once per platform; tests may put their own in ``platform.services`` first."""
    if "business_registry" not in platform.services:
        from idp.realname.sources import Endpoint
        from idp.realname.sources.business import HttpBusinessRegistry

        s = platform.settings
        url = s.business_registry_url or s.authority_url
        platform.services["business_registry"] = HttpBusinessRegistry(Endpoint(
            url, s.authority_client_id, s.authority_key,
            read_timeout=s.authority_read_timeout_ms / 1000)) if url else None
    return platform.services["business_registry"]  # type: ignore[return-value]


def for_platform(platform: Platform, address: str) -> Opening:
    """The opening flows for one request from ``address``."""
    return Opening(platform, registry_for(platform), address=address)
