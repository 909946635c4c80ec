"""Legal-person account opening over the JSON API, for the platform's own app (R-20, R-21, R-23).

The same two steps as the pages (idp/orgs/opening.py): a verification resource
(``/api/v1/orgs/verifications/{method}``) returns a ``verification`` id; then opening
(``POST /api/v1/orgs``) or the change of representative
(``POST /api/v1/orgs/{credit_code}/representative``) signs the current agreement with it.
Only a person's token from one of the platform's own apps (setting ``qr_app_clients``) may
call these: a department system holding a person's token must not open enterprises.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Blueprint, g, jsonify, request

from idp.api.auth import require_bearer
from idp.api.openapi import operation, schema
from idp.api.problems import ApiProblem, json_body
from idp.orgs.opening import (
    CHALLENGE_TTL,
    EVIDENCE_TTL,
    Completed,
    Evidence,
    Opening,
    OpeningError,
    for_platform,
)
from idp.orgs.service import Orgs
from idp.platform import current_platform
from idp.realname import agreements

bp = Blueprint("orgs_api", __name__, url_prefix="/api/v1/orgs")
TAG = "Legal persons 法人"
CHANGE_PATH = "/api/v1/orgs/{credit_code}/representative"
JSON_BODY_MAX = 4 * 1024 * 1024  # a base64 licence image at the 2 MiB default, and JSON


@bp.url_value_preprocessor
def _allow_image_body(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # The app's 1 MiB request limit is too small for a base64 licence image.
    if endpoint == "orgs_api.verify_licence":
        limit = current_platform().settings.licence_image_max_bytes
        request.max_content_length = max(JSON_BODY_MAX, limit * 4 // 3 + 64 * 1024)


def _person() -> int:
    """The caller's person id; only the platform's own apps may open legal persons."""
    raw = str(current_platform().settings.qr_app_clients or "")
    if g.api_caller.client_id not in {c for c in raw.replace(",", " ").split() if c}:
        raise ApiProblem(403, "client_not_allowed", "该应用不能办理法人开户",
                         "Only the platform's own apps may open legal-person accounts.")
    return int(g.api_caller.person_id)


def _service() -> Opening:
    return for_platform(current_platform(), request.remote_addr or "-")


def _problem(exc: OpeningError) -> ApiProblem:
    extra: dict[str, Any] = {}
    if exc.code == "org_exists":
        extra["change_representative"] = CHANGE_PATH
    if exc.retry_in:
        extra["retry_after"] = exc.retry_in
    return ApiProblem(exc.status, exc.code, exc.messages["zh"], exc.messages["en"], **extra)


_VERIFICATION = schema("OrgVerification", {
    "type": "object", "required": ["verification", "method", "credit_code", "name", "kind",
                                   "next", "expires_in"],
    "properties": {
        "verification": {"type": "string", "description": "pass to open or change"},
        "method": {"type": "string", "enum": ["representative_online", "remote_comparison",
                                              "e_licence", "ca_certificate"]},
        "credit_code": {"type": "string"}, "name": {"type": "string"},
        "kind": {"type": "string"},
        "next": {"type": "string", "enum": ["open", "change_representative", "none"],
                 "description": "open: no account yet; change_representative: an account "
                 "exists with another representative; none: you already represent it"},
        "expires_in": {"type": "integer"}}})
_ORG = schema("LegalPerson", {
    "type": "object", "required": ["credit_code", "name", "kind", "status", "opened_by"],
    "properties": {"credit_code": {"type": "string"}, "name": {"type": "string"},
                   "kind": {"type": "string"}, "status": {"type": "string"},
                   "opened_by": {"type": "string"}}})
_COMPLETE = schema("OrgComplete", {
    "type": "object", "required": ["verification", "agreement_version"],
    "properties": {"verification": {"type": "string", "maxLength": 64},
                   "agreement_version": {"type": "string", "maxLength": 32}}})
_CHANGED = schema("OrgRepresentativeChanged", {
    "type": "object", "required": ["org", "review", "review_deadline"],
    "properties": {"org": _ORG, "review_deadline": {"type": "string", "format": "date-time"},
                   "review": {"type": "array", "description": "grants of the previous "
                              "representative, valid until the deadline unless kept",
                              "items": {"type": "object"}}}})
VERIFY_PROBLEMS = (400, 403, 404, 413, 422, 429, 503)


def _org_json(org: Any) -> dict[str, Any]:
    return {"credit_code": org.credit_code, "name": org.name, "kind": org.kind,
            "status": org.status, "opened_by": org.opened_by}


def _verified(service: Opening, ev: Evidence) -> Any:
    existing = service.existing(ev)
    nxt = "open" if existing is None else (
        "none" if existing.representative_person_id == ev.person_id else "change_representative")
    return jsonify(verification=ev.id, method=ev.method, credit_code=ev.credit_code,
                   name=ev.name, kind=ev.kind, next=nxt, expires_in=EVIDENCE_TTL), 201


@bp.get("")
@operation("/api/v1/orgs", "get", summary="我代表的法人 Legal persons I represent", tag=TAG,
           response=schema("LegalPersons", {"type": "object", "properties": {
               "orgs": {"type": "array", "items": _ORG}}}), problems=(403,))
@require_bearer("openid", person=True)
def list_orgs():  # type: ignore[no-untyped-def]
    """The legal-person accounts whose current representative is the caller."""
    person_id = _person()
    with current_platform().db.session() as db:
        return jsonify(orgs=[_org_json(o) for o in Orgs(db).represented_by(person_id)])


@bp.post("/verifications/registry")
@operation("/api/v1/orgs/verifications/registry", "post", tag=TAG,
           summary="法定代表人激活(登记机关核验) Representative activation",
           request=schema("OrgRegistryCheck", {"type": "object", "required": ["credit_code"],
                                               "properties": {"credit_code": {
                                                   "type": "string", "maxLength": 32}}}),
           response=_VERIFICATION, status=201, problems=VERIFY_PROBLEMS)
@require_bearer("openid", person=True)
def verify_registry():  # type: ignore[no-untyped-def]
    """(a) The business registry confirms the code, its name, and that you (name + ID number
    of your real-name account) are its legal representative."""
    person_id = _person()
    body = json_body({"credit_code": (str, 32)})
    service = _service()
    try:
        return _verified(service, service.by_registry(person_id, body["credit_code"]))
    except OpeningError as exc:
        raise _problem(exc) from None


@bp.post("/verifications/licence")
@operation("/api/v1/orgs/verifications/licence", "post", tag=TAG,
           summary="远程比对(营业执照信息+图片) Remote comparison",
           request=schema("OrgLicenceCheck", {
               "type": "object", "required": ["credit_code", "name", "representative", "image"],
               "properties": {"credit_code": {"type": "string", "maxLength": 32},
                              "name": {"type": "string", "maxLength": 200},
                              "representative": {"type": "string", "maxLength": 64},
                              "image": {"type": "string", "contentEncoding": "base64",
                                        "description": "JPEG, PNG or PDF"}}}),
           response=_VERIFICATION, status=201, problems=VERIFY_PROBLEMS)
@require_bearer("openid", person=True)
def verify_licence():  # type: ignore[no-untyped-def]
    """(b) Licence data and a licence image (JPEG/PNG/PDF by content), compared with the
    registry. The image is kept with the account once it is opened."""
    person_id = _person()
    body = json_body({"credit_code": (str, 32), "name": (str, 200),
                      "representative": (str, 64), "image": (str, 1 << 30)})
    try:
        image = base64.b64decode(body["image"], validate=True)
    except (binascii.Error, ValueError):
        raise ApiProblem(422, "validation", "请求内容有误", "The image is not base64.",
                         errors=[{"field": "image", "code": "base64"}]) from None
    service = _service()
    try:
        return _verified(service, service.by_licence(
            person_id, body["credit_code"], body["name"], body["representative"], image))
    except OpeningError as exc:
        raise _problem(exc) from None


@bp.post("/verifications/elicence")
@operation("/api/v1/orgs/verifications/elicence", "post", tag=TAG,
           summary="电子营业执照 Electronic business licence",
           request=schema("OrgELicenceCheck", {"type": "object", "required": ["licence"],
                                               "properties": {"licence": {
                                                   "type": "string", "maxLength": 16384,
                                                   "description": "compact JWS, ES256"}}}),
           response=_VERIFICATION, status=201, problems=VERIFY_PROBLEMS)
@require_bearer("openid", person=True)
def verify_elicence():  # type: ignore[no-untyped-def]
    """(c) An electronic business licence signed by the configured issuer."""
    person_id = _person()
    body = json_body({"licence": (str, 16384)})
    service = _service()
    try:
        return _verified(service, service.by_elicence(person_id, body["licence"]))
    except OpeningError as exc:
        raise _problem(exc) from None


@bp.post("/certificate-challenges")
@operation("/api/v1/orgs/certificate-challenges", "post", tag=TAG,
           summary="获取证书挑战码 Get a certificate challenge",
           response=schema("OrgChallenge", {"type": "object", "properties": {
               "challenge": {"type": "string"}, "expires_in": {"type": "integer"}}}),
           status=201, problems=(403,))
@require_bearer("openid", person=True)
def certificate_challenge():  # type: ignore[no-untyped-def]
    """A one-time text to sign with the enterprise certificate's private key (UTF-8 bytes;
    ECDSA P-256/SHA-256, RSA PKCS#1 v1.5/SHA-256 or Ed25519; base64 signature)."""
    person_id = _person()
    return jsonify(challenge=_service().certificate_challenge(person_id),
                   expires_in=CHALLENGE_TTL), 201


@bp.post("/verifications/certificate")
@operation("/api/v1/orgs/verifications/certificate", "post", tag=TAG,
           summary="企业 CA 证书 Enterprise CA certificate",
           request=schema("OrgCertificateCheck", {
               "type": "object", "required": ["chain", "challenge", "signature"],
               "properties": {"chain": {"type": "string", "maxLength": 65536,
                                        "description": "PEM, leaf first"},
                              "challenge": {"type": "string", "maxLength": 128},
                              "signature": {"type": "string", "maxLength": 2048}}}),
           response=_VERIFICATION, status=201, problems=VERIFY_PROBLEMS)
@require_bearer("openid", person=True)
def verify_certificate():  # type: ignore[no-untyped-def]
    """(d) The chain is verified to a configured CA root with CRL revocation checking (fail
    closed); the credit code comes from the subject's organizationIdentifier (2.5.4.97) or
    serialNumber; the registry confirms you are the representative."""
    person_id = _person()
    body = json_body({"chain": (str, 65536), "challenge": (str, 128), "signature": (str, 2048)})
    service = _service()
    try:
        return _verified(service, service.by_certificate(
            person_id, body["chain"], body["challenge"], body["signature"]))
    except OpeningError as exc:
        raise _problem(exc) from None


def _agreed(body: dict[str, Any]) -> None:
    current = agreements.load(current_platform().settings.agreement_version).version
    if body["agreement_version"] != current:
        raise ApiProblem(409, "agreement_outdated", "请阅读并签署当前版本的服务协议",
                         "Accept the current agreement version.", current_version=current)


@bp.post("")
@operation("/api/v1/orgs", "post", summary="签署协议并开户 Sign and open the account", tag=TAG,
           request=_COMPLETE, response=_ORG, status=201, problems=(403, 404, 409, 422))
@require_bearer("openid", person=True)
def open_account():  # type: ignore[no-untyped-def]
    """Sign the current agreement (GET /api/v1/agreements/current) and open the account,
    bound to you. One credit code, one account: 409 ``org_exists`` names the change of
    representative operation instead."""
    person_id = _person()
    body = json_body({"verification": (str, 64), "agreement_version": (str, 32)})
    _agreed(body)
    try:
        done = _service().open(person_id, body["verification"], channel="app")
    except OpeningError as exc:
        raise _problem(exc) from None
    return jsonify(_org_json(done.org)), 201


def _review_json(done: Completed) -> list[dict[str, Any]]:
    return [{"grant": g.id, "level": g.level, "valid_until": g.valid_until.isoformat(),
             "review_deadline": g.review_deadline.isoformat() if g.review_deadline else None,
             "scope": [{"client_id": s.client_id, "item": s.item} for s in g.scopes]}
            for g in done.review]


@bp.post("/<credit_code>/representative")
@operation(CHANGE_PATH, "post", summary="变更法定代表人 Change the legal representative",
           tag=TAG, request=_COMPLETE, response=_CHANGED, problems=(403, 404, 409, 422))
@require_bearer("openid", person=True)
def change_representative(credit_code: str):  # type: ignore[no-untyped-def]
    """The newly verified representative takes control (R-21). The previous representative's
    grants are listed: each stays valid until ``review_deadline`` unless kept."""
    person_id = _person()
    body = json_body({"verification": (str, 64), "agreement_version": (str, 32)})
    _agreed(body)
    service = _service()
    try:
        ev = service.evidence(person_id, body["verification"])
        if ev.credit_code != credit_code.strip().upper():
            raise OpeningError("evidence_not_found")
        done = service.change(person_id, ev.id, channel="app")
    except OpeningError as exc:
        raise _problem(exc) from None
    assert done.review_deadline is not None
    return jsonify(org=_org_json(done.org), review=_review_json(done),
                   review_deadline=done.review_deadline.isoformat())
