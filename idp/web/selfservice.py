"""Self-service pages: forgotten password, bound phone, login history, authorised apps.

Issue 3 item 6; R-40 (recovery by SMS to the bound phone), R-41 (phone change: old number,
then new), R-53/R-70 (own history only, coarse addresses). Thin views over
`idp.accounts.recovery`, `idp.accounts.phone_change`, `idp.accounts.history` and
`idp.oidc.grants`; the account-centre pages re-check the session on every request
(`flow.signed_in_person`). Status codes as on the login pages: 400 bad input, 401 wrong or
expired code, 403 account unavailable, 409 number taken, 429 limits, 503 SMS gateway down.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from idp.accounts import phone_change, recovery
from idp.accounts.history import login_history
from idp.accounts.phone_change import PhoneChange, PhoneResult, Step
from idp.accounts.recovery import InvalidIdentifier, Recovery, RecoveryResult
from idp.accounts.sms_codes import SendOutcome
from idp.oidc import grants
from idp.oidc.logout import send_notices
from idp.platform import current_platform
from idp.web import flow, messages

bp = Blueprint("selfservice", __name__)

_RECOVERY_STATUS = {
    recovery.Outcome.BAD_CODE: 401, recovery.Outcome.EXPIRED: 401,
    recovery.Outcome.LOCKED: 429, recovery.Outcome.THROTTLED: 429,
    recovery.Outcome.DOCUMENT_DAILY: 429, recovery.Outcome.WEAK_PASSWORD: 400,
    recovery.Outcome.UNAVAILABLE: 403, recovery.Outcome.SEND_REFUSED: 429,
}
_PHONE_STATUS = {
    phone_change.Outcome.INVALID_PHONE: 400, phone_change.Outcome.SAME_PHONE: 400,
    phone_change.Outcome.PHONE_TAKEN: 409, phone_change.Outcome.NO_PHONE: 409,
    phone_change.Outcome.OUT_OF_ORDER: 409, phone_change.Outcome.TOO_MANY: 429,
    phone_change.Outcome.SEND_REFUSED: 429, phone_change.Outcome.BAD_CODE: 401,
    phone_change.Outcome.EXPIRED: 401, phone_change.Outcome.LOCKED: 429,
    phone_change.Outcome.THROTTLED: 429,
}


def send_status(outcome: SendOutcome | None) -> int:
    return 503 if outcome is SendOutcome.GATEWAY_DOWN else 429


def scope_label(scope: str) -> str:
    """Scopes as the consent page names them (idp/oidc/templates/oidc/consent.html)."""
    labels = {
        "openid": _("您的用户标识"),
        "profile": _("基本资料(脱敏姓名)"),
        "phone": _("绑定的手机号码"),
        "realname": _("实名信息(姓名、证件类型、脱敏证件号码、实名等级)"),
        "idcard": _("完整证件号码"),
        "offline_access": _("在您离线时继续访问上述信息"),
        "account": _("管理您的账号(手机应用)"),
    }
    return labels.get(scope, scope)


def code_wrong(remaining: int) -> str:
    return ngettext("验证码错误,还可尝试 %(num)d 次。", "验证码错误,还可尝试 %(num)d 次。",
                    remaining)


# -- forgotten password (R-40) ------------------------------------------------------------------

def recovery_message(result: RecoveryResult) -> str:
    o = recovery.Outcome
    if result.outcome is o.OK:
        return _("如果该账号存在并已绑定手机号,验证码已发送至绑定的手机号,5 分钟内有效。")
    if result.outcome is o.SEND_REFUSED and result.send is not None:
        return messages.sms_sent(result.send, "")
    if result.outcome is o.DOCUMENT_DAILY:
        return _("该账号今日找回密码的次数已达上限,请明天再试,或携带身份证件到政务服务大厅办理。")
    if result.outcome is o.BAD_CODE:
        return code_wrong(result.remaining)
    if result.outcome is o.EXPIRED:
        return _("验证码错误或已失效,请重新获取。")
    if result.outcome is o.LOCKED:
        return ngettext("找回密码已暂时锁定,请于 %(num)d 分钟后再试。",
                        "找回密码已暂时锁定,请于 %(num)d 分钟后再试。",
                        messages.minutes(result.retry_in))
    if result.outcome is o.THROTTLED:
        return messages.throttled(result.retry_in)
    if result.outcome is o.WEAK_PASSWORD:
        if result.reason == "password_invalid":
            return _("密码格式不正确。")
        return messages.password_strength(result.reason)
    return messages.account_status(result.reason)


def _forgot_page(status: int = 200, **context: object) -> tuple[str, int]:
    return render_template("password_forgot.html", **context), status


def _confirm_page(ticket: str, status: int = 200, **context: object) -> tuple[str, int]:
    return render_template("password_forgot_confirm.html", ticket=ticket, **context), status


@bp.route("/password/forgot", methods=["GET", "POST"])
def password_forgot():  # type: ignore[no-untyped-def]
    """Step 1: a login name; a code goes to the bound phone — existence never told (R-40)."""
    if request.method == "GET":
        return _forgot_page(identifier="")
    identifier = flow.form_text("identifier", 64)
    if not identifier:
        error = (_("请输入身份证号或手机号。") if identifier == ""
                 else _("账号格式不正确,请输入身份证号或手机号。"))
        return _forgot_page(400, error=error, identifier="")
    platform = current_platform()
    with platform.db.session() as db:
        try:
            result = Recovery(platform, db, flow.accounts(db), flow.client_address()).start(
                identifier)
        except InvalidIdentifier:
            return _forgot_page(400, identifier=identifier[:64],
                                error=_("账号格式不正确,请输入身份证号或手机号。"))
    if not result.ok:
        status = (send_status(result.send.outcome if result.send else None)
                  if result.outcome is recovery.Outcome.SEND_REFUSED
                  else _RECOVERY_STATUS[result.outcome])
        return _forgot_page(status, identifier=identifier[:64], error=recovery_message(result))
    return _confirm_page(result.ticket, info=recovery_message(result))


@bp.post("/password/forgot/confirm")
def password_forgot_confirm():  # type: ignore[no-untyped-def]
    """Step 2: the code and a new password; every session and token of the person ends."""
    ticket = flow.form_text("ticket", 64) or ""
    code = flow.form_text("code", 16) or ""
    new = flow.form_text("new_password", 256, strip=False) or ""
    confirm = flow.form_text("confirm_password", 256, strip=False) or ""
    if not ticket:
        return _forgot_page(400, identifier="", error=_("请求已失效,请重新开始。"))
    if not code:
        return _confirm_page(ticket, 400, error=_("请输入 6 位短信验证码。"))
    if new != confirm:
        return _confirm_page(ticket, 400, error=_("两次输入的新密码不一致。"))
    platform = current_platform()
    with platform.db.session() as db:
        result = Recovery(platform, db, flow.accounts(db), flow.client_address()).confirm(
            ticket, code, new)
    if result.ok:
        recovery.after_commit(platform, result)
        return render_template("password_forgot_done.html")
    status = _RECOVERY_STATUS[result.outcome]
    if result.outcome in (recovery.Outcome.BAD_CODE, recovery.Outcome.WEAK_PASSWORD):
        return _confirm_page(ticket, status, error=recovery_message(result))
    return _forgot_page(status, identifier="", error=recovery_message(result))


# -- bound phone (R-41) -------------------------------------------------------------------------

def phone_message(result: PhoneResult) -> str:
    o = phone_change.Outcome
    texts = {
        o.INVALID_PHONE: _("请输入正确的 11 位手机号。"),
        o.SAME_PHONE: _("新手机号与当前绑定的手机号相同。"),
        o.PHONE_TAKEN: _("该手机号已绑定其他账号,请更换号码。"),
        o.NO_PHONE: _("您的账号尚未绑定手机号,请携带身份证件到政务服务大厅办理绑定。"),
        o.OUT_OF_ORDER: _("请先验证原手机号。如操作已超时,请重新开始。"),
        o.TOO_MANY: _("今日更换手机号的尝试次数已达上限,请明天再试。"),
        o.EXPIRED: _("验证码错误或已失效,请重新获取。"),
    }
    if result.outcome in texts:
        return texts[result.outcome]
    if result.outcome is o.SEND_REFUSED and result.send is not None:
        return messages.sms_sent(result.send, "")
    if result.outcome is o.BAD_CODE:
        return code_wrong(result.remaining)
    if result.outcome is o.LOCKED:
        return ngettext("更换手机号已暂时锁定,请于 %(num)d 分钟后再试。",
                        "更换手机号已暂时锁定,请于 %(num)d 分钟后再试。",
                        messages.minutes(result.retry_in))
    return messages.throttled(result.retry_in)


_PHONE_ACTIONS = ("start", "resend_old", "confirm_old", "resend_new", "confirm_new", "cancel")


@bp.route("/account/phone", methods=["GET", "POST"])
def account_phone():  # type: ignore[no-untyped-def]
    """Change the bound phone: a code to the old number, then one to the new (R-41)."""
    platform = current_platform()
    with platform.db.session() as db:
        found = flow.signed_in_person(db)
        if found is None:
            return flow.to_login()
        _s, person = found
        service = PhoneChange(platform, db, flow.accounts(db), flow.client_address())
        if request.method == "GET":
            return _phone_page(service, person)
        action = flow.form_text("action", 16) or ""
        if action not in _PHONE_ACTIONS:
            return _phone_page(service, person, 400, error=_("请求无效,请重试。"))
        result = _phone_step(service, person, action)
        if result is None:  # cancelled
            return redirect(url_for("selfservice.account_phone"))
        if not result.ok:
            status = (send_status(result.send.outcome if result.send else None)
                      if result.outcome is phone_change.Outcome.SEND_REFUSED
                      else _PHONE_STATUS[result.outcome])
            return _phone_page(service, person, status, error=phone_message(result))
        if result.step is None:  # the change took effect
            done = result
        else:
            return _phone_page(service, person, info=_phone_sent(service, person, result))
    phone_change.after_commit(platform, done)
    return redirect(url_for("account.home", changed="phone"))


def _phone_step(service: PhoneChange, person, action: str) -> PhoneResult | None:  # type: ignore[no-untyped-def]
    if action == "cancel":
        service.cancel(person)
        return None
    if action == "start":
        return service.start(person, flow.form_text("new_phone", 32) or "")
    if action == "resend_old":
        return service.resend_old(person)
    if action == "resend_new":
        return service.send_new(person)
    code = flow.form_text("code", 16) or ""
    if action == "confirm_old":
        return service.confirm_old(person, code)
    return service.confirm_new(person, code)


def _phone_sent(service: PhoneChange, person, result: PhoneResult) -> str:  # type: ignore[no-untyped-def]
    pending = service.pending(person)
    if pending is None:
        return ""
    phone = pending.old_masked if result.step is Step.OLD else pending.new_masked
    return _("验证码已发送至 %(phone)s,5 分钟内有效。", phone=phone)


def _phone_page(service: PhoneChange, person, status: int = 200,  # type: ignore[no-untyped-def]
                **context: object) -> tuple[str, int]:
    current = flow.accounts(service.session).view(person).phone
    return render_template("account_phone.html", current=current,
                           pending=service.pending(person), **context), status


# -- history and applications -----------------------------------------------------------------

def event_label(action: str) -> str:
    labels = {
        "account:login:success": _("登录"), "account:login:failure": _("登录失败"),
        "account:lockout": _("账号锁定"), "account:mfa:success": _("两步验证"),
        "account:mfa:failure": _("两步验证失败"), "account:reauth:failure": _("密码确认失败"),
        "account:password:change": _("修改密码"), "account:password:reset": _("找回密码"),
        "account:phone:change": _("更换手机号"),
    }
    return labels.get(action, action)


def method_label(method: str) -> str:
    labels = {"pwd": _("密码"), "sms": _("短信验证码"), "otp": _("动态口令"),
              "totp": _("动态口令"), "recovery_code": _("恢复码"), "qr": _("扫码"),
              "face": _("刷脸"), "fed": _("关联平台"), "recovery": _("找回密码"),
              "phone_change": _("更换手机号"), "": "—"}
    return labels.get(method, method)


def outcome_label(outcome: str) -> str:
    labels = {"success": _("成功"), "failure": _("失败"), "locked": _("已锁定"),
              "throttled": _("已限制"), "refused": _("已拒绝"), "started": _("已开始"),
              "old_confirmed": _("原号码已验证")}
    return labels.get(outcome, outcome)


@bp.get("/account/history")
def account_history():  # type: ignore[no-untyped-def]
    """My recent sign-ins and security events; only mine, addresses coarse."""
    before = request.args.get("before", "")
    cursor = int(before) if before.isdigit() and len(before) < 19 else None
    with current_platform().db.session() as db:
        found = flow.signed_in_person(db)
        if found is None:
            return flow.to_login()
        events = login_history(db, found[1], before=cursor)
    return render_template("account_history.html", events=events, event_label=event_label,
                           method_label=method_label, outcome_label=outcome_label,
                           next_before=events[-1].id if len(events) >= 50 else None)


@bp.get("/account/apps")
def account_apps():  # type: ignore[no-untyped-def]
    """Applications I authorised: name, scopes granted, first and last authorisation."""
    with current_platform().db.session() as db:
        found = flow.signed_in_person(db)
        if found is None:
            return flow.to_login()
        apps = grants.authorised_apps(db, found[1].id)
    return render_template("account_apps.html", apps=apps, scope_label=scope_label,
                           revoked=request.args.get("revoked", "") == "1")


@bp.post("/account/apps/revoke")
def account_apps_revoke():  # type: ignore[no-untyped-def]
    """Revoke an application's access: consent, refresh tokens, its sessions (logout)."""
    client_id = flow.form_text("client_id", 64) or ""
    platform = current_platform()
    with platform.db.session() as db:
        found = flow.signed_in_person(db)
        if found is None:
            return flow.to_login()
        notices = grants.revoke_app(platform, db, found[1], client_id,
                                    address=flow.client_address())
        if notices is None:
            apps = grants.authorised_apps(db, found[1].id)
            return render_template("account_apps.html", apps=apps, scope_label=scope_label,
                                   error=_("未找到该应用的授权,可能已被撤销。")), 404
    send_notices(platform, notices)
    return redirect(url_for("selfservice.account_apps", revoked="1"))
