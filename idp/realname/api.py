"""Registration as a JSON API for the mobile app and kiosks (R-10, R-02; RFC 9457 errors).

The same steps as the pages, as resources: start a registration, submit factors, confirm
the phone code, set the password, accept the current agreement → 201 with the new account.
Unauthenticated by nature (the caller has no account yet): every operation is rate limited
per address and per document number in `idp.realname.registration`, and audited there.
The registration ``id`` is a random bearer secret: whoever holds it continues the
registration, for ``registration_ttl`` seconds at most.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from idp.api.openapi import operation, schema
from idp.api.problems import ApiProblem, json_body
from idp.platform import current_platform
from idp.realname import agreements, messages
from idp.realname.reg_state import Registration, RegistrationError
from idp.realname.registration import Registrations
from idp.realname.wiring import registrations, states
from idp.web.sso import acr_for_level

bp = Blueprint("registration_api", __name__, url_prefix="/api/v1")
TAG = "registration 注册"
RECOVERY_PATH = "/password/forgot"

_STATE = schema("Registration", {
    "type": "object", "required": ["id", "verified", "next", "expires_in", "realname_level"],
    "properties": {
        "id": {"type": "string", "description": "bearer secret of this registration"},
        "verified": {"type": "array", "items": {"type": "string"}},
        "next": {"type": "array", "items": {"type": "string", "enum": [
            "phone", "social_security", "bank_card", "provident_fund", "driving_licence",
            "password", "agreement"]}},
        "phone_code_sent": {"type": "boolean"},
        "realname_level": {"type": "integer", "description": "level the account will get"},
        "expires_in": {"type": "integer"}}})
_FACTOR = schema("FactorData", {
    "type": "object", "description": "phone: {phone}; social_security: {card_number}; "
    "bank_card: {card_number, phone}; provident_fund: {account_number}; "
    "driving_licence: {file_number}",
    "additionalProperties": {"type": "string", "maxLength": 64}})


def _service() -> Registrations:
    return registrations(current_platform(), request.remote_addr or "-")


def _problem(exc: RegistrationError) -> ApiProblem:
    """A registration outcome as problem details; ``authority`` says which check failed."""
    status, zh, en = messages.texts(exc)
    extra: dict[str, Any] = {}
    if exc.authority:
        extra["authority"] = exc.authority
    if exc.field:
        extra["errors"] = [{"field": exc.field, "code": exc.code}]
    if exc.retry_in:
        extra["retry_after"] = exc.retry_in
    if exc.remaining is not None:
        extra["remaining"] = exc.remaining
    if exc.code == "already_registered":
        extra["recovery"] = RECOVERY_PATH
    return ApiProblem(status, exc.code, zh, en, **extra)


def _state(reg: Registration) -> dict[str, Any]:
    return {"id": reg.id, "verified": sorted(reg.factors), "next": reg.next_steps(),
            "phone_code_sent": reg.phone_pending is not None,
            "realname_level": reg.level,
            "expires_in": states(current_platform()).expires_in(reg)}


@bp.post("/registrations")
@operation("/api/v1/registrations", "post", summary="开始注册 Start a registration", tag=TAG,
           request=schema("RegistrationStart", {
               "type": "object", "required": ["name", "id_type", "id_number", "channel"],
               "properties": {"name": {"type": "string", "maxLength": 64},
                              "id_type": {"type": "string", "enum": [
                                  "resident_id", "hkmo_residence", "tw_residence",
                                  "foreign_permanent"]},
                              "id_number": {"type": "string", "maxLength": 64},
                              "channel": {"type": "string", "enum": ["app", "kiosk", "web"]}}}),
           response=_STATE, status=201, bearer=False, problems=(400, 403, 409, 422, 429, 503))
def start_registration():  # type: ignore[no-untyped-def]
    """Name + document number, checked with the population registry (R-10). A registered
    number answers 409 ``already_registered`` with a ``recovery`` link, and nothing more."""
    body = json_body({"name": (str, 64), "id_type": (str, 32), "id_number": (str, 64),
                      "channel": (str, 16)})
    try:
        reg = _service().start(**body)
    except RegistrationError as exc:
        raise _problem(exc) from None
    return jsonify(_state(reg)), 201


@bp.post("/registrations/<reg_id>/factors/<factor>")
@operation("/api/v1/registrations/{id}/factors/{factor}", "post",
           summary="提交核验要素 Submit a factor", tag=TAG, request=_FACTOR, response=_STATE,
           bearer=False, problems=(400, 404, 409, 422, 429, 503))
def submit_factor(reg_id: str, factor: str):  # type: ignore[no-untyped-def]
    """Check one further factor with its authority. For ``phone`` the carrier check is
    followed by an SMS code (``phone_code_sent``); confirm it at ``…/factors/phone/confirm``.
    An unavailable authority answers 503 with ``authority``; the registration is kept."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiProblem(400, "invalid_json", "请求体必须是 JSON 对象",
                         "The body must be a JSON object.")
    try:
        reg = _service().submit_factor(reg_id, factor, data)
    except RegistrationError as exc:
        raise _problem(exc) from None
    return jsonify(_state(reg))


@bp.post("/registrations/<reg_id>/factors/phone/confirm")
@operation("/api/v1/registrations/{id}/factors/phone/confirm", "post",
           summary="确认短信验证码 Confirm the phone code", tag=TAG,
           request=schema("PhoneCode", {"type": "object", "required": ["code"], "properties": {
               "code": {"type": "string", "maxLength": 16}}}),
           response=_STATE, bearer=False, problems=(400, 404, 409, 422, 429))
def confirm_phone(reg_id: str):  # type: ignore[no-untyped-def]
    """Prove possession of the phone; it becomes the account's bound phone."""
    body = json_body({"code": (str, 16)})
    try:
        reg = _service().confirm_phone(reg_id, body["code"])
    except RegistrationError as exc:
        raise _problem(exc) from None
    return jsonify(_state(reg))


@bp.post("/registrations/<reg_id>/password")
@operation("/api/v1/registrations/{id}/password", "post", summary="设置密码 Set the password",
           tag=TAG, request=schema("RegistrationPassword", {
               "type": "object", "required": ["password"],
               "properties": {"password": {"type": "string", "maxLength": 128}}}),
           response=_STATE, bearer=False, problems=(400, 404, 409, 422))
def set_password(reg_id: str):  # type: ignore[no-untyped-def]
    """Set the password once at least two factors are verified."""
    body = json_body({"password": (str, 128)})
    try:
        reg = _service().set_password(reg_id, body["password"])
    except RegistrationError as exc:
        raise _problem(exc) from None
    return jsonify(_state(reg))


@bp.get("/agreements/current")
@operation("/api/v1/agreements/current", "get", summary="当前服务协议 Current agreement",
           tag=TAG, response=schema("Agreement", {
               "type": "object", "required": ["version", "text", "sha256"],
               "properties": {"version": {"type": "string"}, "text": {"type": "string"},
                              "text_en": {"type": "string"}, "sha256": {"type": "string"}}}),
           bearer=False, problems=())
def current_agreement():  # type: ignore[no-untyped-def]
    """The service agreement to show before accepting it (Chinese text is binding)."""
    a = agreements.load(current_platform().settings.agreement_version)
    return jsonify(version=a.version, text=a.text, text_en=a.text_en, sha256=a.sha256)


@bp.post("/registrations/<reg_id>/agreement")
@operation("/api/v1/registrations/{id}/agreement", "post",
           summary="签署协议并创建账号 Accept the agreement: create the account", tag=TAG,
           request=schema("AgreementAcceptance", {
               "type": "object", "required": ["version"],
               "properties": {"version": {"type": "string", "maxLength": 32}}}),
           response=schema("RegisteredAccount", {
               "type": "object", "required": ["sub", "realname_level", "acr"],
               "properties": {"sub": {"type": "string"}, "realname_level": {"type": "integer"},
                              "acr": {"type": "string"}}}),
           status=201, bearer=False, problems=(400, 404, 409, 422))
def accept_agreement(reg_id: str):  # type: ignore[no-untyped-def]
    """Accept the current version: the account, the acceptance and the audit record are
    created together; the registration ends."""
    body = json_body({"version": (str, 32)})
    try:
        done = _service().finish(reg_id, body["version"])
    except RegistrationError as exc:
        raise _problem(exc) from None
    return jsonify(sub=done.sub, realname_level=done.realname_level,
                   acr=acr_for_level(done.realname_level)), 201
