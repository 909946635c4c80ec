"""Self-service over the JSON API: password recovery, bound phone, logins, apps (issue 3 item 6).

R-40 and R-41 for the mobile app and kiosks, with the same services and the same limits
as the pages (`idp.accounts.recovery`, `idp.accounts.phone_change`,
`idp.accounts.history`, `idp.oidc.grants`).

- Password recovery is unauthenticated (the person cannot sign in): it is limited per
  phone, per document number and per address, every attempt is audited, and its answers
  never tell whether an account exists.
- ``/me/...`` operations need a person's access token from one of the platform's own
  apps (the ``qr_app_clients`` setting, shared with QR login): a department system holding
  a person's token must not read their login history, revoke their grants or move their
  phone binding.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from idp.accounts import phone_change, recovery
from idp.accounts.history import DEFAULT_LIMIT, MAX_LIMIT, login_history
from idp.accounts.models import Person
from idp.accounts.phone_change import PhoneChange, PhoneResult
from idp.accounts.recovery import InvalidIdentifier, Recovery, RecoveryResult
from idp.accounts.service import Accounts
from idp.accounts.sms_codes import SendOutcome
from idp.api.auth import require_bearer
from idp.api.openapi import operation, schema
from idp.api.problems import ApiProblem, json_body
from idp.oidc import grants
from idp.oidc.logout import send_notices
from idp.platform import current_platform

bp = Blueprint("selfservice_api", __name__, url_prefix="/api/v1")
TAG = "Self-service 自助服务"


def _address() -> str:
    return request.remote_addr or "-"


def _accounts(db: Any) -> Accounts:
    p = current_platform()
    return Accounts(db, p.protector, p.hasher)


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _retry(status: int, code: str, title: str, detail: str, retry_in: int) -> ApiProblem:
    return ApiProblem(status, code, title, detail, retry_after=max(1, retry_in))


def _send_problem(outcome: SendOutcome | None, retry_in: int) -> ApiProblem:
    if outcome is SendOutcome.GATEWAY_DOWN:
        return ApiProblem(503, "sms_unavailable", "短信发送失败,请稍后再试",
                          "The SMS gateway is unavailable.")
    return _retry(429, "sms_limited", "获取验证码过于频繁,请稍后再试",
                  f"SMS sending limit reached ({outcome or 'limit'}).", retry_in)


# -- password recovery (R-40) ---------------------------------------------------------------------

_RECOVERY_STARTED = schema("RecoveryStarted", {
    "type": "object", "required": ["ticket", "expires_in"],
    "properties": {"ticket": {"type": "string", "description": "opaque; pass to /confirm"},
                   "expires_in": {"type": "integer", "description": "seconds"}}})


def _recovery_problem(result: RecoveryResult) -> ApiProblem:
    o = recovery.Outcome
    if result.outcome is o.SEND_REFUSED:
        return _send_problem(result.send.outcome if result.send else None, result.retry_in)
    if result.outcome is o.DOCUMENT_DAILY:
        return _retry(429, "recovery_daily_limit", "今日找回密码次数已达上限",
                      "Too many recoveries for this account today.", result.retry_in)
    if result.outcome is o.LOCKED:
        return _retry(429, "locked", "找回密码已暂时锁定",
                      "Too many wrong codes; try again later.", result.retry_in)
    if result.outcome is o.THROTTLED:
        return _retry(429, "throttled", "此网络的尝试次数过多",
                      "Too many failures from this address.", result.retry_in)
    if result.outcome is o.BAD_CODE:
        return ApiProblem(400, "code_wrong", "验证码错误", "The code is wrong.",
                          remaining=result.remaining)
    if result.outcome is o.WEAK_PASSWORD:
        return ApiProblem(422, "validation", "请求内容有误", "The new password is too weak.",
                          errors=[{"field": "new_password", "code": result.reason}])
    if result.outcome is o.UNAVAILABLE and result.reason == recovery.COOLING_OFF:
        return _retry(403, recovery.COOLING_OFF, "绑定手机号刚在窗口更换,暂不能用短信找回密码",
                      "The phone was just changed at a counter; SMS recovery is closed for a "
                      "while.", result.retry_in)
    if result.outcome is o.UNAVAILABLE:
        return ApiProblem(403, "account_unavailable", "该账号当前无法使用",
                          "The account is banned or closed.")
    return ApiProblem(400, "code_expired", "验证码错误或已失效,请重新获取",
                      "No live code for this ticket; start again.")


@bp.post("/password-recovery")
@operation("/api/v1/password-recovery", "POST", summary="Start password recovery by SMS",
           tag=TAG, status=202, bearer=False, problems=(400, 422, 429, 503),
           request=schema("RecoveryStart", {
               "type": "object", "required": ["identifier"],
               "properties": {"identifier": {"type": "string", "maxLength": 64,
                                             "description": "ID number or bound phone"}}}),
           response=_RECOVERY_STARTED)
def recovery_start() -> tuple[Response, int]:
    """Send a code to the account's bound phone (R-40).

    The answer is the same whether or not the account exists or has a phone: a ticket is
    always returned, and a code is only sent when there is a phone to send it to.
    """
    body = json_body({"identifier": (str, 64)})
    platform = current_platform()
    with platform.db.session() as db:
        try:
            result = Recovery(platform, db, _accounts(db), _address()).start(body["identifier"])
        except InvalidIdentifier:
            raise ApiProblem(422, "validation", "请求内容有误", "Unrecognised identifier.",
                             errors=[{"field": "identifier", "code": "format"}]) from None
    if not result.ok:
        raise _recovery_problem(result)
    return _no_store(jsonify(ticket=result.ticket,
                             expires_in=platform.settings.sms_code_ttl)), 202


@bp.post("/password-recovery/confirm")
@operation("/api/v1/password-recovery/confirm", "POST", summary="Reset the password",
           tag=TAG, status=204, bearer=False, problems=(400, 403, 422, 429),
           request=schema("RecoveryConfirm", {
               "type": "object", "required": ["ticket", "code", "new_password"],
               "properties": {"ticket": {"type": "string", "maxLength": 64},
                              "code": {"type": "string", "maxLength": 16},
                              "new_password": {"type": "string", "maxLength": 128}}}))
def recovery_confirm() -> Response:
    """Check the SMS code and set the new password (R-40).

    Every session and refresh token of the person ends and connected systems get a
    back-channel logout; a forced password change is cleared.
    """
    body = json_body({"ticket": (str, 64), "code": (str, 16), "new_password": (str, 128)})
    platform = current_platform()
    with platform.db.session() as db:
        result = Recovery(platform, db, _accounts(db), _address()).confirm(
            body["ticket"], body["code"], body["new_password"])
    if not result.ok:
        raise _recovery_problem(result)
    recovery.after_commit(platform, result)
    return Response(status=204)


# -- the signed-in person's own app -----------------------------------------------------------

def _own_app_only() -> int:
    """The caller's person id; only the platform's own apps may manage an account."""
    raw = str(getattr(current_platform().settings, "qr_app_clients", "") or "")
    if g.api_caller.client_id not in {c for c in raw.replace(",", " ").split() if c}:
        raise ApiProblem(403, "client_not_allowed", "该应用不能管理账号",
                         "Only the platform's own apps may use self-service operations.")
    return int(g.api_caller.person_id)


def _person(db: Any) -> Person:
    person = db.get(Person, _own_app_only())
    if person is None:
        raise ApiProblem(401, "invalid_token", "登录凭证无效或已过期",
                         "The access token is invalid or expired.")
    return person  # type: ignore[no-any-return]


_LOGINS = schema("LoginHistory", {
    "type": "object", "required": ["items"],
    "properties": {
        "items": {"type": "array", "items": {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "at": {"type": "string",
                                                             "format": "date-time"},
                           "event": {"type": "string"}, "method": {"type": "string"},
                           "outcome": {"type": "string"},
                           "address": {"type": "string", "description": "last part hidden"}}}},
        "next_before": {"type": ["integer", "null"]}}})


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 18 or not low <= int(raw) <= high:
        raise ApiProblem(422, "validation", "请求内容有误", f"Bad query parameter {name}.",
                         errors=[{"field": name, "code": "range", "min": low, "max": high}])
    return int(raw)


@bp.get("/me/logins")
@operation("/api/v1/me/logins", "GET", summary="My login history", tag=TAG,
           response=_LOGINS, problems=(403, 422))
@require_bearer("openid", person=True)
def my_logins() -> Response:
    """My newest sign-ins and security events; ``before`` pages back, ``limit`` ≤ 100."""
    limit = _int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT) or DEFAULT_LIMIT
    before = _int_arg("before", None, 1, 10 ** 18)
    with current_platform().db.session() as db:
        events = login_history(db, _person(db), limit=limit, before=before)
    items = [{"id": e.id, "at": e.at.isoformat(), "event": e.action, "method": e.method,
              "outcome": e.outcome, "address": e.address} for e in events]
    return _no_store(jsonify(items=items,
                             next_before=events[-1].id if len(events) == limit else None))


_APPS = schema("AuthorisedApps", {
    "type": "object", "required": ["items"],
    "properties": {"items": {"type": "array", "items": {
        "type": "object",
        "properties": {"client_id": {"type": "string"}, "name": {"type": "string"},
                       "scopes": {"type": "array", "items": {
                           "type": "object", "properties": {"scope": {"type": "string"},
                                                            "label": {"type": "string"}}}},
                       "first_authorised_at": {"type": "string", "format": "date-time"},
                       "last_authorised_at": {"type": "string", "format": "date-time"},
                       "offline": {"type": "boolean"}}}}}})


@bp.get("/me/apps")
@operation("/api/v1/me/apps", "GET", summary="Applications I authorised", tag=TAG,
           response=_APPS, problems=(403,))
@require_bearer("openid", person=True)
def my_apps() -> Response:
    """Applications holding my consent or an offline grant, with the scopes granted."""
    from idp.web.selfservice import scope_label

    with current_platform().db.session() as db:
        apps = grants.authorised_apps(db, _person(db).id)
    items = [{"client_id": a.client_id, "name": a.name,
              "scopes": [{"scope": s, "label": scope_label(s)} for s in a.scopes],
              "first_authorised_at": a.first_at.isoformat(),
              "last_authorised_at": a.last_at.isoformat(), "offline": a.offline}
             for a in apps]
    return _no_store(jsonify(items=items))


@bp.delete("/me/apps/<client_id>")
@operation("/api/v1/me/apps/{client_id}", "DELETE", summary="Revoke an application's access",
           tag=TAG, status=204, problems=(403, 404))
@require_bearer("openid", person=True)
def revoke_my_app(client_id: str) -> Response:
    """Forget the consent, revoke the app's refresh tokens and log it out of my sessions."""
    platform = current_platform()
    with platform.db.session() as db:
        notices = grants.revoke_app(platform, db, _person(db), client_id, address=_address())
    if notices is None:
        raise ApiProblem(404, "not_authorised", "未找到该应用的授权",
                         "This application holds no authorisation of yours.")
    send_notices(platform, notices)
    return Response(status=204)


# -- bound phone (R-41) ------------------------------------------------------------------------

_PHONE_STEP = schema("PhoneChangeStep", {
    "type": "object", "required": ["step"],
    "properties": {"step": {"type": "string", "enum": ["confirm_old", "confirm_new", "done"]},
                   "code_sent_to": {"type": "string", "description": "masked number"},
                   "phone": {"type": "string", "description": "masked, once done"},
                   "expires_in": {"type": "integer"}}})
_CODE = schema("SmsCode", {"type": "object", "required": ["code"],
                           "properties": {"code": {"type": "string", "maxLength": 16}}})

_PHONE_PROBLEMS = {
    phone_change.Outcome.INVALID_PHONE: (422, "validation", "请输入正确的 11 位手机号",
                                         "new_phone is not a mobile number."),
    phone_change.Outcome.SAME_PHONE: (422, "same_phone", "新手机号与当前绑定的手机号相同",
                                      "The new number is the bound one."),
    phone_change.Outcome.PHONE_TAKEN: (409, "phone_taken", "该手机号已绑定其他账号",
                                       "The number is bound to another account."),
    phone_change.Outcome.NO_PHONE: (409, "no_phone", "账号未绑定手机号,请到政务服务大厅办理",
                                    "No phone is bound; visit a service counter."),
    phone_change.Outcome.OUT_OF_ORDER: (409, "step_out_of_order", "请先验证原手机号",
                                        "Prove the old number first, or start again."),
    phone_change.Outcome.EXPIRED: (400, "code_expired", "验证码错误或已失效,请重新获取",
                                   "No live code; request a new one."),
}


def _phone_problem(result: PhoneResult) -> ApiProblem:
    o = phone_change.Outcome
    if result.outcome in _PHONE_PROBLEMS:
        status, code, title, detail = _PHONE_PROBLEMS[result.outcome]
        extra: dict[str, Any] = ({"errors": [{"field": "new_phone", "code": "format"}]}
                                 if result.outcome is o.INVALID_PHONE else {})
        return ApiProblem(status, code, title, detail, **extra)
    if result.outcome is o.SEND_REFUSED:
        return _send_problem(result.send.outcome if result.send else None, result.retry_in)
    if result.outcome is o.BAD_CODE:
        return ApiProblem(400, "code_wrong", "验证码错误", "The code is wrong.",
                          remaining=result.remaining)
    if result.outcome is o.TOO_MANY:
        return _retry(429, "phone_change_daily_limit", "今日更换手机号的尝试次数已达上限",
                      "Too many phone changes started today.", result.retry_in)
    if result.outcome is o.LOCKED:
        return _retry(429, "locked", "更换手机号已暂时锁定", "Too many wrong codes.",
                      result.retry_in)
    return _retry(429, "throttled", "此网络的尝试次数过多",
                  "Too many failures from this address.", result.retry_in)


def _phone_answer(service: PhoneChange, person: Person, result: PhoneResult) -> Response:
    if not result.ok:
        raise _phone_problem(result)
    pending = service.pending(person)
    if pending is None:
        return _no_store(jsonify(step="done", phone=service.accounts.view(person).phone))
    step = "confirm_old" if pending.step is phone_change.Step.OLD else "confirm_new"
    sent_to = pending.old_masked if step == "confirm_old" else pending.new_masked
    return _no_store(jsonify(step=step, code_sent_to=sent_to,
                             expires_in=current_platform().settings.sms_code_ttl))


def _phone_operation(work: Any) -> Response:
    platform = current_platform()
    with platform.db.session() as db:
        person = _person(db)
        service = PhoneChange(platform, db, _accounts(db), _address())
        result: PhoneResult = work(service, person)
        # A failure is answered after the commit, so its audit record is kept.
        answer = _phone_answer(service, person, result) if result.ok else None
    if answer is None:
        raise _phone_problem(result)
    phone_change.after_commit(platform, result)
    return answer


@bp.post("/me/phone")
@operation("/api/v1/me/phone", "POST", summary="Start changing my bound phone", tag=TAG,
           request=schema("PhoneChangeStart", {
               "type": "object", "required": ["new_phone"],
               "properties": {"new_phone": {"type": "string", "maxLength": 32}}}),
           response=_PHONE_STEP, problems=(403, 409, 422, 429, 503))
@require_bearer("openid", person=True)
def phone_start() -> Response:
    """Name the new number; a code goes to the OLD number first (R-41)."""
    body = json_body({"new_phone": (str, 32)})
    return _phone_operation(lambda s, p: s.start(p, body["new_phone"]))


@bp.post("/me/phone/confirm-old")
@operation("/api/v1/me/phone/confirm-old", "POST", summary="Prove the old number", tag=TAG,
           request=_CODE, response=_PHONE_STEP, problems=(400, 403, 409, 422, 429, 503))
@require_bearer("openid", person=True)
def phone_confirm_old() -> Response:
    """The code from the old number; then a code goes to the new number."""
    body = json_body({"code": (str, 16)})
    return _phone_operation(lambda s, p: s.confirm_old(p, body["code"]))


@bp.post("/me/phone/resend")
@operation("/api/v1/me/phone/resend", "POST", summary="Send the current step's code again",
           tag=TAG, response=_PHONE_STEP, problems=(403, 409, 429, 503))
@require_bearer("openid", person=True)
def phone_resend() -> Response:
    """Send again the code of the step in progress (old number, or new once the old is proven)."""
    def resend(service: PhoneChange, person: Person) -> PhoneResult:
        pending = service.pending(person)
        if pending is not None and pending.step is phone_change.Step.NEW:
            return service.send_new(person)
        return service.resend_old(person)

    return _phone_operation(resend)


@bp.post("/me/phone/confirm-new")
@operation("/api/v1/me/phone/confirm-new", "POST", summary="Prove the new number", tag=TAG,
           request=_CODE, response=_PHONE_STEP, problems=(400, 403, 409, 422, 429))
@require_bearer("openid", person=True)
def phone_confirm_new() -> Response:
    """The code from the new number; the change takes effect and the old number is told."""
    body = json_body({"code": (str, 16)})
    return _phone_operation(lambda s, p: s.confirm_new(p, body["code"]))
