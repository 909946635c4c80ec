"""Pages of a demo department system; everything about sign-in is the connector's.

The connector serves ``/oidc/login``, ``/oidc/callback``, ``/oidc/logout`` and
``/oidc/backchannel-logout``; these pages only read `current_user` (R-32, R-54).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from idp_connector import User
from idp_connector.flask import IdpConnector, current_user, require_authority, require_level

from demo.rp.config import RpConfig, System

bp = Blueprint("rp", __name__)
AMR_LABELS = {"pwd": "密码 Password", "sms": "短信验证码 SMS code", "otp": "动态口令 TOTP",
              "qr": "扫码 QR code", "face": "人脸 Face", "x509": "数字证书 Certificate",
              "fed": "联合登录 Federation", "mfa": "多因素 Multi-factor"}
ROLE_LABELS = {"representative": ("法定代表人", "legal representative"),
               "delegate": ("经办人（受托）", "delegate")}
TIMEZONE = ZoneInfo("Asia/Shanghai")  # the platform's users; shown with the offset anyway


def _system() -> System:
    config: RpConfig = current_app.extensions["rp"]
    return config.system


def mask_name(name: str) -> str:
    """Show a name as ``张*`` / ``欧**``: first character only (DESIGN.md, personal data)."""
    return name[:1] + "*" * (len(name) - 1) if name else ""


def _item_labels(system: System) -> dict[str, tuple[str, str]]:
    return {"*": ("全部事项", "every service item"),
            system.enterprise_item: (system.enterprise_item_zh, system.enterprise_item_en)}


def _valid_until(value: Any) -> str | None:
    if value is None:
        return None
    return dt.datetime.fromtimestamp(float(value), TIMEZONE).strftime("%Y-%m-%d %H:%M (UTC+8)")


def enterprise_view(user: User, system: System) -> dict[str, Any] | None:
    """What the page shows of the enterprise a person acts for, or None (R-54)."""
    org, authority = user.acting_for, user.authority
    if org is None or authority is None:
        return None
    labels = _item_labels(system)
    role_zh, role_en = ROLE_LABELS[authority["role"]]
    return {"name": str(org.get("name") or ""), "credit_code": org["credit_code"],
            "role_zh": role_zh, "role_en": role_en,
            "items": [(item, *labels.get(item, (item, item))) for item in user.authority_items],
            "valid_until": _valid_until(authority.get("valid_until")),
            "may_file": user.has_authority(system.enterprise_item)}


@bp.get("/")
def home() -> str:
    user, system = current_user, _system()
    return render_template(
        "home.html", system=system, user=user, amr_labels=AMR_LABELS,
        name=mask_name(str(user.name or "")) if user else "",
        enterprise=enterprise_view(user, system) if user else None)


@bp.get("/login")
def login() -> Response:
    """The address the demo always had; the connector's own login route does the work."""
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("next", "level")}
    return redirect(url_for("idp_connector.login", **args))  # type: ignore[return-value]


@bp.get("/session.json")
def session_json() -> Response:
    """Who is signed in here, for scripts and tests; never a token or a full name."""
    user = current_user
    if not user:
        return jsonify(signed_in=False)
    org = user.acting_for
    return jsonify(signed_in=True, sub=user.sub, sid=user.sid,
                   name=mask_name(str(user.name or "")), acr=user.acr, level=user.level,
                   amr=user.amr, acting_for=org["credit_code"] if org else None,
                   authority_items=user.authority_items)


@bp.get("/records")
@require_level(2)
def records() -> str:
    """Personal records need real-name level 2: a lower session steps up (acr_values)."""
    user = current_user
    assert user
    # A current access token, renewed by the connector's refresh when about to expire.
    fresh = IdpConnector.access_token() is not None
    return render_template("records.html", system=_system(), name=mask_name(str(user.name or "")),
                           level=user.level, fresh=fresh)


@bp.get("/enterprise")
def enterprise() -> Any:
    """The employer's business of this system: only with the enterprise's authority.

    The item belongs to the system (config), so the decorator is applied per request.
    """
    return require_authority(_system().enterprise_item)(_enterprise_page)()


def _enterprise_page() -> str:
    system = _system()
    user = current_user
    assert user
    return render_template("enterprise.html", system=system,
                           enterprise=enterprise_view(user, system))
