"""Login pages: password, SMS code, second factor, forced password change (R-30, R-70).

Thin views: read and check the form, call `idp.accounts.login`, answer with a page or a
redirect along the flow in `idp.web.flow`. Status codes say what happened even though a
browser only shows the page: 400 bad input, 401 wrong secret, 403 account unavailable,
429 locked or throttled.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from idp.accounts.lockout import record
from idp.accounts.login import LoginResult, Outcome
from idp.accounts.service import check_password_strength, looks_like_phone, normalize_phone
from idp.accounts.sessions import SsoSession
from idp.crypto import mask_phone
from idp.login_tx import LoginTransaction
from idp.oidc.logout import send_notices
from idp.platform import current_platform
from idp.web import flow, messages
from idp.web.sso import clear_sso_cookie, current_sso

bp = Blueprint("login", __name__)

_STATUS = {Outcome.BAD_CREDENTIALS: 401, Outcome.EXPIRED: 401, Outcome.LOCKED: 429,
           Outcome.THROTTLED: 429, Outcome.UNAVAILABLE: 403}


def _page(template: str, tx: LoginTransaction | None, status: int = 200,
          **context: object) -> tuple[str, int]:
    if getattr(g, "tx_missing", False):
        context.setdefault("notice", _("登录请求已过期。登录后将进入账号中心;"
                                       "如需访问其他应用,请返回该应用重新登录。"))
    return render_template(template, tx=tx, tx_args=flow.tx_args(tx), **context), status


def _already_signed_in(tx: LoginTransaction | None) -> BaseResponse | None:
    """Skip the form when the existing session already satisfies the request (R-32)."""
    s = current_sso()
    if s is None or (tx is not None and tx.force_login):
        return None
    if tx is not None and tx.need_mfa and "mfa" not in s.amr:
        return redirect(url_for("login.second_factor", **flow.tx_args(tx)))
    return redirect(flow.done_url(tx))


@bp.route("/login", methods=["GET", "POST"])
def password_login():  # type: ignore[no-untyped-def]
    """Sign in with an ID number (default) or bound phone, and password (R-30)."""
    tx = flow.load_tx()
    if request.method == "GET":
        return _already_signed_in(tx) or _page(
            "login.html", tx, identifier=tx.login_hint[:64] if tx else "")
    identifier = flow.form_text("identifier", 64)
    password = flow.form_text("password", 128, strip=False)
    error = None
    if identifier is None:
        error = _("账号格式不正确,请输入身份证号或手机号。")
    elif not identifier:
        error = _("请输入身份证号或手机号。")
    elif password == "":
        error = _("请输入密码。")
    elif password is None or "\x00" in password:
        error = _("密码格式不正确。")
    if error:
        return _page("login.html", tx, 400, error=error, identifier=(identifier or "")[:64])
    with current_platform().db.session() as db:
        result = flow.login_service(db).password(identifier, password)
        if result.ok:
            assert result.person is not None
            signed_in = flow.begin_session(db, result.person, ["pwd"], tx)
    if result.ok:  # after the commit: the resume reads what the login wrote
        return flow.onward(signed_in, tx)
    return _page("login.html", tx, _STATUS[result.outcome],
                 error=messages.password_login(result), identifier=identifier)


@bp.route("/login/sms", methods=["GET", "POST"])
def sms_login():  # type: ignore[no-untyped-def]
    """Sign in with the bound phone and an SMS code (R-30, R-31)."""
    tx = flow.load_tx()
    if request.method == "GET":
        return _already_signed_in(tx) or _page("login_sms.html", tx, phone="")
    phone = flow.form_text("phone", 32)
    action = flow.form_text("action", 16) or "login"
    error = None
    if phone is None or (phone and not looks_like_phone(phone)):
        error = _("请输入正确的 11 位手机号。")
    elif not phone:
        error = _("请输入手机号。")
    elif action not in ("send", "login"):
        error = _("请求无效,请重试。")
    if error:
        return _page("login_sms.html", tx, 400, error=error, phone=(phone or "")[:32])
    assert phone is not None
    phone = normalize_phone(phone)
    if action == "send":
        return _send_code(tx, phone)
    code = flow.form_text("code", 16)
    if not code:
        return _page("login_sms.html", tx, 400, phone=phone, sent=True,
                     error=_("请输入 6 位短信验证码。"))
    with current_platform().db.session() as db:
        result = flow.login_service(db).sms(flow.sms_codes(), phone, code)
        if result.ok:
            assert result.person is not None
            signed_in = flow.begin_session(db, result.person, ["sms"], tx)
    if result.ok:  # after the commit: the resume reads what the login wrote
        return flow.onward(signed_in, tx)
    return _page("login_sms.html", tx, _STATUS[result.outcome], phone=phone, sent=True,
                 error=messages.sms_login(result))


def _send_code(tx: LoginTransaction | None, phone: str) -> tuple[str, int]:
    """Send a login code; a phone without an account gets the same answer and no message."""
    with current_platform().db.session() as db:
        person = flow.accounts(db).by_phone(phone)
        sent = flow.sms_codes().issue(phone, flow.client_address(), deliver=person is not None)
        outcome = ("success" if sent.delivered else
                   "suppressed" if sent.ok else sent.outcome.value)
        record(db, "sms:send", person=person, address=flow.client_address(), outcome=outcome,
               purpose="login", phone=mask_phone(phone))
    message = messages.sms_sent(sent, mask_phone(phone))
    if sent.ok:
        return _page("login_sms.html", tx, phone=phone, sent=True, info=message)
    return _page("login_sms.html", tx, 503 if sent.outcome == "gateway_down" else 429,
                 phone=phone, error=message)


@bp.route("/login/totp", methods=["GET", "POST"])
def second_factor():  # type: ignore[no-untyped-def]
    """The TOTP step after a first factor, or a step-up a client asked for (RFC 6238)."""
    tx = flow.load_tx()
    s = current_sso(include_pending=True)
    if s is None:
        return flow.to_login(tx)
    if "totp" not in s.pending and (s.pending or "mfa" in s.amr):
        return redirect(flow.next_url(s, tx))
    if s.complete:  # a step-up: only possible with a factor to step up with
        with current_platform().db.session() as db:
            person = flow.accounts(db).get(s.person_id)
            if person is None or not flow.totp(db).enabled(person):
                return redirect(url_for("account.totp", **flow.tx_args(tx)))
    if request.method == "GET":
        return _page("login_totp.html", tx)
    code = flow.form_text("code", 64)
    if not code:
        return _page("login_totp.html", tx, 400,
                     error=_("请输入动态口令(6 位数字)或一个恢复码。"))
    with current_platform().db.session() as db:
        person = flow.accounts(db).get(s.person_id)
        if person is None:
            return flow.to_login(tx)
        result = flow.login_service(db).second_factor(flow.totp(db), person, code)
    if result.ok:
        s.amr = [m for m in s.amr if m not in ("otp", "mfa")] + ["otp", "mfa"]
        current_platform().sessions.complete_step(s, "totp")
        return flow.onward(redirect(flow.next_url(s, tx)), tx)
    return _second_factor_failed(tx, s, result)


def _second_factor_failed(tx: LoginTransaction | None, s: SsoSession,
                          result: LoginResult) -> Response | tuple[str, int]:
    status = _STATUS[result.outcome]
    if result.outcome in (Outcome.LOCKED, Outcome.THROTTLED):
        if not s.complete:
            # A half-finished login dies with the lock; a complete session (step-up) stays.
            current_platform().sessions.end(s.sid)
            page, _code = _page("login.html", tx, status, identifier="",
                                error=messages.second_factor(result))
            resp = Response(page, status=status, mimetype="text/html")
            clear_sso_cookie(resp)
            return resp
    return _page("login_totp.html", tx, status, error=messages.second_factor(result))


@bp.route("/password/change", methods=["GET", "POST"])
def password_change():  # type: ignore[no-untyped-def]
    """The forced password change after import or a counter reset (R-11, R-40)."""
    tx = flow.load_tx()
    s = current_sso(include_pending=True)
    if s is None:
        return flow.to_login(tx)
    if s.pending[:1] != ["password_change"]:
        return redirect(flow.next_url(s, tx))
    if request.method == "GET":
        return _page("password_change.html", tx)
    new = flow.form_text("new_password", 256, strip=False) or ""
    confirm = flow.form_text("confirm_password", 256, strip=False) or ""
    with current_platform().db.session() as db:
        accounts = flow.accounts(db)
        person = accounts.get(s.person_id)
        if person is None:
            return flow.to_login(tx)
        error = new_password_error(new, confirm)
        if error is None and accounts.check_password(person, new):
            error = _("新密码不能与当前密码相同。")
        if error:
            return _page("password_change.html", tx, 400, error=error)
        accounts.set_password(person, new)  # bumps the epoch: other sessions and tokens die
        record(db, "account:password:change", person=person, address=flow.client_address(),
               forced=True)
        s.epoch = person.security_epoch
        notices = flow.end_other_sessions(db, s.person_id, s.sid)
    send_notices(current_platform(), notices)
    current_platform().sessions.complete_step(s, "password_change")
    return flow.onward(redirect(flow.next_url(s, tx)), tx)


def new_password_error(new: str, confirm: str) -> str | None:
    if not new:
        return _("请输入新密码。")
    weak = check_password_strength(new)
    if weak:
        return messages.password_strength(weak)
    if "\x00" in new:
        return _("密码格式不正确。")
    if new != confirm:
        return _("两次输入的新密码不一致。")
    return None
