"""Console pages: sign-in, second factor, sign-out, the home page (issue 5 item 1).

The blueprint ``admin`` (``/admin``) is shared by every console module; each adds its
routes to `bp` (see `admin_ui.audit_views`).
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from admin_ui.auth import (
    address,
    clear_staff_cookie,
    console,
    current_staff,
    set_staff_cookie,
    staff_required,
)
from admin_ui.service import ENROL, ENROL_CODE, SecondFactorError
from idp.accounts.totp import provisioning_uri, qr_data_uri
from idp.staff.directory import MESSAGES, StaffAuthError, TooManyAttempts

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
               static_folder="static", static_url_path="/static")

TOTP_ISSUER = "统一身份认证平台管理后台"
_STATUS = {"wrong_credentials": 401, "account_disabled": 403, "no_role": 403,
           "directory_unavailable": 503, "locked": 429, "totp_wrong": 401}


def _safe_next(raw: str | None) -> str:
    """Only a console path of ours: never an open redirect (``//host``, ``/\\host``)."""
    if raw and raw.startswith("/admin") and not raw.startswith(("//", "/\\")) \
            and "\\" not in raw and len(raw) < 512:
        return raw
    return url_for("admin.home")


def _message(exc: StaffAuthError | SecondFactorError) -> str:
    if exc.code == "enrolment_code_wrong":
        return _("启用码不正确。请核对平台管理员交给您的启用码。")
    if exc.code == "enrolment_code_expired":
        return _("启用码已过期,请联系平台管理员重新重置动态验证码。")
    if isinstance(exc, SecondFactorError):
        return _("动态验证码不正确或已使用,请输入验证器上新的验证码。")
    return _(MESSAGES.get(exc.code, MESSAGES["staff_error"]))


@bp.get("/login")
def login():  # type: ignore[no-untyped-def]
    s = current_staff()
    if s is not None and s.complete:
        return redirect(url_for("admin.home"))
    return render_template("admin/login.html", next=_safe_next(request.args.get("next")))


@bp.post("/login")
def login_post():  # type: ignore[no-untyped-def]
    username = request.form.get("username", "")[:256]
    password = request.form.get("password", "")[:512]
    next_url = _safe_next(request.form.get("next"))
    try:
        token, _s = console().password_step(username, password, address())
    except StaffAuthError as exc:
        return render_template("admin/login.html", error=_message(exc), username=username[:64],
                               next=next_url), _STATUS.get(exc.code, 400)
    resp = redirect(url_for("admin.totp", next=next_url))
    set_staff_cookie(resp, token)
    return resp


def _totp_page(error: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    s = current_staff()
    if s is None:
        return redirect(url_for("admin.login"))
    if s.complete:
        return redirect(url_for("admin.home"))
    needs_code = ENROL_CODE in s.pending  # after a reset: the one-time code first
    enrolling = ENROL in s.pending and not needs_code
    context: dict[str, object] = {"enrolling": enrolling, "needs_code": needs_code,
                                  "error": error,
                                  "next": _safe_next(request.values.get("next"))}
    if enrolling:
        secret = console().enrolment_secret(s)
        context["secret"] = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
        context["qr"] = qr_data_uri(provisioning_uri(secret, s.username, TOTP_ISSUER))
    return render_template("admin/totp.html", **context), status


@bp.get("/totp")
def totp():  # type: ignore[no-untyped-def]
    return _totp_page()


@bp.post("/totp")
def totp_post():  # type: ignore[no-untyped-def]
    s = current_staff()
    if s is None or s.complete:
        return redirect(url_for("admin.login"))
    try:
        console().second_factor(s, request.form.get("code", "")[:32], address())
    except TooManyAttempts:
        # Too many wrong codes: the half-open session goes, the password is asked again.
        console().sessions.end(s)
        resp = redirect(url_for("admin.login"))
        clear_staff_cookie(resp)
        return resp
    except (StaffAuthError, SecondFactorError) as exc:
        return _totp_page(_message(exc), 401)
    if not s.complete:  # the enrolment code was right: now enrol the new authenticator
        return redirect(url_for("admin.totp", next=_safe_next(request.form.get("next"))))
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    s = current_staff()
    if s is not None:
        console().sign_out(s, address())
    resp = redirect(url_for("admin.login"))
    clear_staff_cookie(resp)
    return resp


@bp.get("/")
@staff_required("console.home")
def home():  # type: ignore[no-untyped-def]
    return render_template("admin/home.html")
