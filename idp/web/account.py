"""Account centre: what the platform holds about me, password, second factor (R-30, R-70).

Every page re-checks the session (`flow.signed_in_person`) and sends the browser to
``/login`` when it is gone, idle too long, past its lifetime, or revoked. Signing out is
the OpenID Provider's RP-initiated logout endpoint (``/end_session``), which also tells
the relying parties by back-channel.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idp.accounts.lockout import record
from idp.accounts.login import Outcome
from idp.accounts.totp import AlreadyEnrolled, provisioning_uri, qr_data_uri
from idp.login_tx import LoginTransaction
from idp.oidc.logout import send_notices
from idp.platform import current_platform
from idp.web import flow, messages
from idp.web.views import new_password_error

bp = Blueprint("account", __name__, url_prefix="/account")

END_SESSION_PATH = "/end_session"
ISSUER_LABEL = "政务服务统一身份认证"


def _page(template: str, status: int = 200, **context: object) -> tuple[str, int]:
    return render_template(template, end_session_url=END_SESSION_PATH, **context), status


@bp.get("")
def home():  # type: ignore[no-untyped-def]
    """My account: masked personal data, real-name level, login methods."""
    with current_platform().db.session() as db:
        found = flow.signed_in_person(db)
        if found is None:
            return flow.to_login()
        s, person = found
        totp = flow.totp(db)
        return _page("account.html", view=flow.accounts(db).view(person), person=person,
                     totp_on=totp.enabled(person),
                     codes_left=totp.recovery_codes_left(person), amr=s.amr,
                     changed=request.args.get("changed", ""))


@bp.route("/password", methods=["GET", "POST"])
def password():  # type: ignore[no-untyped-def]
    """Change my password; my other sessions end, this one continues (R-70)."""
    if request.method == "GET":
        with current_platform().db.session() as db:
            if flow.signed_in_person(db) is None:
                return flow.to_login()
        return _page("account_password.html")
    current = flow.form_text("current_password", 128, strip=False) or ""
    new = flow.form_text("new_password", 256, strip=False) or ""
    with current_platform().db.session() as db:
        found = flow.signed_in_person(db)
        if found is None:
            return flow.to_login()
        s, person = found
        if not current:
            return _page("account_password.html", 400, error=_("请输入当前密码。"))
        error = new_password_error(new, flow.form_text("confirm_password", 256, strip=False) or "")
        if error is None and new == current:
            error = _("新密码不能与当前密码相同。")
        if error:
            return _page("account_password.html", 400, error=error)
        checked = flow.login_service(db).reauthenticate(person, current)
        if not checked.ok:
            return _page("account_password.html", 401 if checked.remaining else 429,
                         error=_reauth_error(checked.outcome, checked.remaining,
                                             checked.retry_in))
        flow.accounts(db).set_password(person, new)  # epoch bump: other tokens die too
        record(db, "account:password:change", person=person, address=flow.client_address(),
               forced=False)
        s.epoch = person.security_epoch
        notices = flow.end_other_sessions(db, s.person_id, s.sid)
    send_notices(current_platform(), notices)
    current_platform().sessions.update(s)
    return redirect(url_for("account.home", changed="password"))


def _reauth_error(outcome: Outcome, remaining: int, retry_in: int) -> str:
    if outcome is Outcome.BAD_CREDENTIALS:
        return messages.current_password_wrong(remaining)
    if outcome is Outcome.THROTTLED:
        return messages.throttled(retry_in)
    return messages.locked(retry_in)


def _enrolment_page(label: str, secret: str, tx: LoginTransaction | None,
                    status: int = 200, error: str = "") -> tuple[str, int]:
    uri = provisioning_uri(secret, label, ISSUER_LABEL)
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return _page("account_totp.html", status, state="enrolling", qr=qr_data_uri(uri),
                 secret=grouped, tx=tx, tx_args=flow.tx_args(tx), error=error)


@bp.route("/totp", methods=["GET", "POST"])
def totp():  # type: ignore[no-untyped-def]
    """Set up TOTP: show a QR code and the secret, confirm with a first code (RFC 6238)."""
    tx = flow.load_tx()
    with current_platform().db.session() as db:
        found = flow.signed_in_person(db)
        if found is None:
            return flow.to_login(tx)
        s, person = found
        service = flow.totp(db)
        cred = service.credential(person)
        if cred is not None and cred.confirmed_at is not None:
            return _page("account_totp.html", state="enabled", tx=tx, tx_args=flow.tx_args(tx),
                         codes_left=service.recovery_codes_left(person))
        action = (flow.form_text("action", 16) or "") if request.method == "POST" else ""
        # The authenticator shows this label beside the codes: masked, never the ID number.
        label = flow.accounts(db).view(person).phone or person.sub[:8]
        if action != "confirm" or cred is None:
            if request.method == "GET" and cred is None:
                return _page("account_totp.html", state="off", tx=tx,
                             tx_args=flow.tx_args(tx), required=bool(tx and tx.need_mfa))
            try:
                secret = service.begin(person)
            except AlreadyEnrolled:  # a concurrent confirmation won
                return redirect(url_for("account.totp", **flow.tx_args(tx)))
            record(db, "account:totp:begin", person=person, address=flow.client_address())
            return _enrolment_page(label, secret, tx)
        code = flow.form_text("code", 16) or ""
        secret = service.secret(cred)
        codes = service.confirm(person, code) if code else None
        if codes is None:
            record(db, "account:totp:confirm", person=person, address=flow.client_address(),
                   outcome="failure")
            return _enrolment_page(label, secret, tx, 400,
                                   _("动态口令不正确,请核对手机时间后输入应用中显示的 6 位数字。"))
        record(db, "account:totp:confirm", person=person, address=flow.client_address())
    # Confirming proved possession of the new factor: this session now counts as MFA.
    s.amr = [m for m in s.amr if m not in ("otp", "mfa")] + ["otp", "mfa"]
    current_platform().sessions.update(s)
    return _page("account_recovery_codes.html", codes=codes,
                 continue_url=flow.done_url(tx) if tx else url_for("account.home"))


@bp.post("/totp/disable")
def totp_disable():  # type: ignore[no-untyped-def]
    """Turn TOTP off: the password and a current code (or a recovery code) are required."""
    password = flow.form_text("password", 128, strip=False) or ""
    code = flow.form_text("code", 64) or ""
    with current_platform().db.session() as db:
        found = flow.signed_in_person(db)
        if found is None:
            return flow.to_login()
        _s, person = found
        service = flow.totp(db)
        if not service.enabled(person):
            return redirect(url_for("account.totp"))
        if not password or not code:
            return _page("account_totp.html", 400, state="enabled", tx=None, tx_args={},
                         codes_left=service.recovery_codes_left(person),
                         error=_("请输入当前密码和动态口令。"))
        login = flow.login_service(db)
        checked = login.reauthenticate(person, password)
        if checked.ok:
            checked = login.second_factor(service, person, code)
            error = "" if checked.ok else messages.second_factor(checked)
        else:
            error = _reauth_error(checked.outcome, checked.remaining, checked.retry_in)
        if error:
            return _page("account_totp.html", 401 if checked.remaining else 429,
                         state="enabled", tx=None, tx_args={}, error=error,
                         codes_left=service.recovery_codes_left(person))
        service.disable(person)
        record(db, "account:totp:disable", person=person, address=flow.client_address())
    return redirect(url_for("account.home", changed="totp_off"))
