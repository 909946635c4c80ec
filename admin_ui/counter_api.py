"""Counter services as JSON: the card-reader agent and hall counter systems (R-11, R-40, R-50).

Same rules as the console pages (`admin_ui.counter`): a staff bearer token
(``POST /api/v1/admin/session``), the role checked per operation, every step audited. The
card-read contract is documented in admin_ui/README.md ("Card reader agent") and in the
``CardRead`` schema of ``/api/openapi.json``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from admin_ui import agreement_access as access
from admin_ui.agreement_pdf import load_signed, pdf_response
from admin_ui.api_auth import staff_api
from admin_ui.auth import address, console
from admin_ui.counter_phone import PhoneDesk, needs_approval
from admin_ui.counter_phone_approval import PhoneApprovals
from admin_ui.counter_phone_views import approval_json, changed_json
from admin_ui.counter_text import MESSAGES, STATUS
from idp.accounts.counter import CounterCase, CounterError
from idp.accounts.counter_card import (
    LONG_TERM,
    MAX_PHOTO_B64,
    TEXT_FIELDS,
    CardError,
    parse_card,
)
from idp.accounts.service import Accounts
from idp.api.openapi import operation, schema
from idp.api.problems import ApiProblem, json_body
from idp.crypto import mask_id_number, mask_name, mask_phone
from idp.platform import current_platform
from idp.realname import agreements

bp = Blueprint("admin_counter_api", __name__, url_prefix="/api/v1/admin/counter")
TAG = "Console 管理后台"
CASE = "/api/v1/admin/counter/cases/{case_id}"

_CARD = schema("CardRead", {
    "type": "object", "required": ["name", "sex", "birth_date", "address", "id_number",
                                   "issuing_authority", "valid_from", "valid_until"],
    "properties": {
        "id_type": {"enum": ["resident_id", "hkmo_residence", "tw_residence"],
                    "default": "resident_id"},
        **{name: {"type": "string", "maxLength": n} for name, n in TEXT_FIELDS.items()
           if name != "id_type"},
        "sex": {"type": "string", "enum": ["男", "女", "male", "female"]},
        "birth_date": {"type": "string", "description": "YYYY-MM-DD or YYYYMMDD"},
        "valid_until": {"type": "string", "description": f"YYYY-MM-DD, YYYYMMDD or {LONG_TERM}"},
        "photo": {"type": "string", "contentEncoding": "base64",
                  "contentMediaType": "image/jpeg", "maxLength": MAX_PHOTO_B64,
                  "description": "the chip photo; shown to the clerk, never stored"}}})
_CASE = schema("CounterCase", {
    "type": "object", "required": ["id", "name", "id_number", "account"],
    "properties": {
        "id": {"type": "string"}, "name": {"type": "string", "description": "masked"},
        "id_number": {"type": "string", "description": "masked"},
        "id_type": {"type": "string"}, "source": {"enum": ["reader", "manual"]},
        "registry_reference": {"type": "string"},
        "account": {"type": ["object", "null"], "description": "the existing account"},
        "phone": {"type": ["string", "null"]}, "phone_verified": {"type": "boolean"},
        "next": {"type": "array", "items": {"type": "string"}}}})
_ACTIVATED = schema("CounterActivation", {
    "type": "object", "required": ["person_id", "account_name", "realname_level", "upgraded"],
    "properties": {
        "person_id": {"type": "integer"}, "sub": {"type": "string"},
        "account_name": {"type": "string", "description": "the ID number, masked"},
        "realname_level": {"type": "integer"}, "upgraded": {"type": "boolean"},
        "password": {"type": ["string", "null"],
                     "description": "new accounts only; shown once, must be changed"},
        "must_change_password": {"type": "boolean"},
        "agreement_version": {"type": "string"}, "phone_bound": {"type": "boolean"}}})


def _desk() -> PhoneDesk:
    return PhoneDesk(current_platform(), member_id=g.staff.member_id, actor=g.staff.actor,
                     address=address(), hall=g.staff.department)


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _problem(exc: CounterError) -> ApiProblem:
    extra: dict[str, object] = {}
    if exc.field:
        extra["errors"] = [{"field": exc.field, "code": exc.code}]
    if exc.remaining is not None:
        extra["remaining"] = exc.remaining
    if exc.retry_in:
        extra["retry_after"] = exc.retry_in
    if exc.code == "agreement_version":
        extra["current_version"] = current_platform().settings.agreement_version
    return ApiProblem(STATUS.get(exc.code, 400), exc.code, MESSAGES.get(exc.code, "办理失败"),
                      f"Counter step refused: {exc.code}.", **extra)


def _case_json(case: CounterCase) -> dict[str, object]:
    account = None
    if case.person_id is not None:
        with current_platform().db.session() as session:
            p = current_platform()
            person = Accounts(session, p.protector, p.hasher).get(case.person_id)
            if person is not None:
                account = {"person_id": person.id, "realname_level": person.realname_level,
                           "status": person.status}
    return {"id": case.id, "name": case.masked_name, "id_number": case.masked_number,
            "id_type": case.card["id_type"], "source": case.card["source"],
            "registry_reference": case.registry_reference, "account": account,
            "phone": mask_phone(case.phone) if case.phone else None,
            "phone_verified": case.phone_verified,
            "next": ["sms", "activation"] + (["password_reset", "phone_change"] if account else [])}


@bp.post("/card-reads")
@operation("/api/v1/admin/counter/card-reads", "POST", tag=TAG, status=201,
           summary="Post an ID card read (card-reader agent); checks the population registry",
           request=_CARD, response=_CASE, problems=(400, 403, 422, 503))
@staff_api("counter.card_read")
def card_read() -> tuple[Response, int]:
    """The agent's card read (R-11): number, validity and registry checked; a case opens.

    The case belongs to the staff member whose token posted it, for ``registration_ttl``
    seconds; the console shows it under 窗口业务.
    """
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiProblem(400, "invalid_json", "请求体必须是 JSON 对象",
                         "The body must be a JSON object.")
    try:
        case = _desk().read_card(parse_card(data, source="reader"))
    except CardError as exc:
        raise ApiProblem(422, "validation", "证件信息有误", "Some card fields are invalid.",
                         errors=exc.errors) from exc
    except CounterError as exc:
        raise _problem(exc) from exc
    return _no_store(jsonify(_case_json(case))), 201


@bp.get("/cases")
@operation("/api/v1/admin/counter/cases", "GET", tag=TAG, summary="The caller's open cases",
           response=schema("CounterCases", {"type": "object", "properties": {
               "cases": {"type": "array", "items": _CASE}}}), problems=(403,))
@staff_api("counter.card_read")
def cases() -> Response:
    """Newest first, at most ten; only the cases this staff member read."""
    return _no_store(jsonify(cases=[_case_json(c) for c in _desk().cases()]))


@bp.post("/cases/<case_id>/sms")
@operation(CASE + "/sms", "POST", tag=TAG, summary="Send an SMS code to the applicant",
           request=schema("CounterPhone", {"type": "object", "required": ["phone"],
                                           "properties": {"phone": {"type": "string"}}}),
           response=schema("CounterSmsSent", {"type": "object", "properties": {
               "sent_to": {"type": "string"}, "retry_in": {"type": "integer"}}}),
           problems=(403, 404, 409, 422, 429, 503))
@staff_api("counter.register")
def send_code(case_id: str) -> Response:
    """The applicant reads the code out or types it on a keypad (R-11)."""
    body = json_body({"phone": (str, 32)})
    try:
        sent = _desk().send_code(case_id, body["phone"])
    except CounterError as exc:
        raise _problem(exc) from exc
    return _no_store(jsonify(sent_to=mask_phone(body["phone"].strip()), retry_in=sent.retry_in))


@bp.post("/cases/<case_id>/sms-verification")
@operation(CASE + "/sms-verification", "POST", tag=TAG, summary="Check the applicant's code",
           request=schema("CounterCode", {"type": "object", "required": ["code"],
                                          "properties": {"code": {"type": "string"}}}),
           response=_CASE, problems=(403, 404, 422))
@staff_api("counter.register")
def verify_code(case_id: str) -> Response:
    """A wrong code answers 422 with ``remaining`` attempts."""
    body = json_body({"code": (str, 16)})
    try:
        case = _desk().verify_code(case_id, body["code"])
    except CounterError as exc:
        raise _problem(exc) from exc
    return _no_store(jsonify(_case_json(case)))


@bp.post("/cases/<case_id>/activation")
@operation(CASE + "/activation", "POST", tag=TAG, status=201,
           summary="Activate the account at level 3 (or upgrade the existing one)",
           request=schema("CounterActivate", {
               "type": "object", "required": ["agreement_signed", "agreement_version"],
               "properties": {"agreement_signed": {"const": True},
                              "agreement_version": {"type": "string"}}}),
           response=_ACTIVATED, problems=(403, 404, 409, 422))
@staff_api("counter.register")
def activate(case_id: str) -> tuple[Response, int]:
    """The clerk confirms the written agreement is signed; the password is returned once."""
    body = json_body({"agreement_signed": (bool, 1), "agreement_version": (str, 32)})
    try:
        done = _desk().activate(case_id, agreement_signed=body["agreement_signed"],
                                agreement_version=body["agreement_version"])
    except CounterError as exc:
        raise _problem(exc) from exc
    return _no_store(jsonify(
        person_id=done.person_id, sub=done.sub, account_name=done.account_name,
        realname_level=done.realname_level, upgraded=done.upgraded, password=done.password,
        must_change_password=done.password is not None,
        agreement_version=done.agreement_version, phone_bound=done.phone_bound)), 201


@bp.post("/cases/<case_id>/password-reset")
@operation(CASE + "/password-reset", "POST", tag=TAG,
           summary="Reset the card holder's password (R-40); every session ends",
           response=schema("CounterPasswordReset", {
               "type": "object", "required": ["person_id", "password"],
               "properties": {"person_id": {"type": "integer"},
                              "account_name": {"type": "string"},
                              "password": {"type": "string"},
                              "must_change_password": {"const": True}}}),
           problems=(403, 404, 409))
@staff_api("counter.password_reset")
def password_reset(case_id: str) -> Response:
    """A new random password (changed at next login); SMS notice to the bound phone."""
    try:
        done = _desk().reset_password(case_id)
    except CounterError as exc:
        raise _problem(exc) from exc
    return _no_store(jsonify(person_id=done.person_id, account_name=done.account_name,
                             password=done.password, must_change_password=True))


@bp.post("/cases/<case_id>/phone-change")
@operation(CASE + "/phone-change", "POST", tag=TAG,
           summary="Bind the verified new phone of a person who lost the old one (R-41)",
           response=schema("CounterPhoneChange", {
               "type": "object", "required": ["person_id", "phone"],
               "properties": {"person_id": {"type": "integer"},
                              "account_name": {"type": "string"},
                              "phone": {"type": "string", "description": "masked"},
                              "sessions_ended": {"const": True}}}),
           problems=(403, 404, 409))
@staff_api("counter.phone_change")
def phone_change(case_id: str) -> Response | tuple[Response, int]:
    """After ``sms`` + ``sms-verification`` to the NEW number; every session ends.

    A manually entered card answers 202 ``{"status": "pending_approval", "approval": …}``:
    a colleague of the same hall approves it (``/api/v1/admin/counter/phone-approvals``).
    """
    desk = _desk()
    try:
        if needs_approval(desk.check_ready(case_id)):
            held = PhoneApprovals(current_platform()).request(desk, case_id)
            return _no_store(jsonify(status="pending_approval",
                                     approval=approval_json(held))), 202
        done = desk.change_phone(case_id)
    except CounterError as exc:
        raise _problem(exc) from exc
    return _no_store(jsonify(changed_json(done)))


def _print_basis(session: Any, person_id: int) -> dict[str, Any]:
    """Why the caller may print (R-50): their own case, or ``?reason=`` for a reprint."""
    try:
        return access.basis(session, g.staff.actor, person_id,
                            request.args.get("reason", "")[:256])
    except access.PrintRefused as exc:
        if exc.code == "reason":
            raise ApiProblem(422, "validation", "请求内容有误", "The reason is 4-200 characters.",
                             errors=[{"field": "reason", "code": "length"}]) from exc
        console().deny(g.staff, access.ACTION, exc.code, address())
        raise ApiProblem(403, "not_own_case", "只能打印本人经办的业务,补打须填写原因",
                         "Not a case you handled: give ?reason= to reprint (audited).",
                         action=access.ACTION) from exc


@bp.get("/persons/<int:person_id>/agreement")
@operation("/api/v1/admin/counter/persons/{person_id}/agreement", "GET", tag=TAG,
           summary="The person's agreement for printing, with masked account details (R-50)",
           response=schema("CounterAgreement", {"type": "object", "properties": {
               "version": {"type": "string"}, "text": {"type": "string"},
               "account": {"type": "object"}, "accepted": {"type": ["object", "null"]}}}),
           problems=(403, 404, 422))
@staff_api("counter.print_agreement")
def agreement(person_id: int) -> Response:
    """The signed version (or the current one, to be signed) and the masked account.

    Only for a person whose counter case the caller handled; anyone else with
    ``?reason=`` (4–200 characters, a reprint), else 403 ``not_own_case``. Audited.
    """
    p = current_platform()
    with p.db.session() as session:
        why = _print_basis(session, person_id)
        accounts = Accounts(session, p.protector, p.hasher)
        person = accounts.get(person_id)
        if person is None:
            raise ApiProblem(404, "not_found", "账号不存在", "No such person.")
        accepted = agreements.latest(session, person.id)
        text = agreements.load(accepted.version if accepted else p.settings.agreement_version)
        phone = accounts.phone(person)
        body = {"version": text.version, "text": text.text, "account": {
            "id_number": mask_id_number(accounts.id_number(person)),
            "name": mask_name(accounts.name(person)), "id_type": person.id_type,
            "phone": mask_phone(phone) if phone else None,
            "realname_level": person.realname_level},
            "accepted": {"version": accepted.version, "channel": accepted.channel,
                         "at": accepted.accepted_at.isoformat(),
                         "sha256": accepted.text_sha256} if accepted else None}
        access.record(session, actor=g.staff.actor, address=address(), fmt="json", why=why,
                      target=f"person:{person_id}")
    return _no_store(jsonify(body))


@bp.get("/persons/<int:person_id>/agreement.pdf")
@operation("/api/v1/admin/counter/persons/{person_id}/agreement.pdf", "GET", tag=TAG,
           summary="The person's signed agreement as a PDF, masked details only (R-50)",
           problems=(403, 404, 422))
@staff_api("counter.print_agreement")
def agreement_pdf(person_id: int) -> Response:
    """``application/pdf`` attachment; the same content and rule as the print view."""
    p = current_platform()
    with p.db.session() as session:
        why = _print_basis(session, person_id)
        signed = load_signed(session, p.protector, p.hasher, person_id,
                             p.settings.agreement_version)
        if signed is not None:
            access.record(session, actor=g.staff.actor, address=address(), fmt="pdf", why=why,
                          target=f"person:{person_id}")
    if signed is None:
        raise ApiProblem(404, "not_found", "账号不存在", "No such person.")
    return pdf_response(signed, clerk=f"{g.staff.display_name} · {g.staff.department}",
                        person_id=person_id)
