"""The dashboard: registrations, sign-ins, failures and bans per day (issue 5 item 7).

The page (``/admin/dashboard``, added to the console blueprint) draws server-side SVG
charts (`admin_ui.charts`) with a table of the same numbers under each; `bp` here is the
JSON twin (``GET /api/v1/admin/dashboard``, listed in ``idp.api.API_MODULES``) with the
same role rule, ``dashboard.view``. The numbers are counts only (no person appears), from
bounded grouped queries (`admin_ui.stats`).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, Response, jsonify, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup

from admin_ui import stats
from admin_ui.api_auth import staff_api
from admin_ui.auth import staff_required
from admin_ui.charts import Series, bar_chart, data_table, legend, line_chart
from admin_ui.views import bp as pages
from idp.api.openapi import operation, schema
from idp.api.problems import ApiProblem
from idp.platform import current_platform
from idp.staff.directory import N_

bp = Blueprint("admin_dashboard_api", __name__, url_prefix="/api/v1/admin")
DEFAULT_DAYS = 14
CHANNEL_LABELS = {"web": N_("网站"), "app": N_("移动应用"), "counter": N_("窗口"),
                  "kiosk": N_("自助终端"), "linked": N_("关联注册"), "import": N_("历史导入"),
                  "federated": N_("跨域互认"), "other": N_("其他")}
METHOD_LABELS = {"pwd": N_("密码"), "sms": N_("短信验证码"), "qr": N_("扫码"),
                 "face": N_("人脸识别"), "x509": N_("数字证书"), "fed": N_("跨域登录"),
                 "otp": N_("动态口令"), "other": N_("其他")}
FAILURE_LABELS = {"failure": N_("登录失败"), "lockout": N_("账号锁定")}
BAN_LABELS = {"ban": N_("封禁"), "unban": N_("解封(已批准)")}


def _days(raw: str | None) -> int | None:
    if not raw:
        return DEFAULT_DAYS
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) in stats.DASHBOARD_DAYS \
        else None


def _series(data: Mapping[str, list[int]], labels: Mapping[str, str]) -> list[Series]:
    return [Series(_(labels[key]) if key in labels else key, tuple(values))
            for key, values in data.items()]


def _panel(panel_id: str, title: str, kind: str, days: list[str],
           series: list[Series]) -> dict[str, Markup | str | int]:
    draw = line_chart if kind == "line" else bar_chart
    return {"id": panel_id, "title": title,
            "total": sum(sum(s.values) for s in series),
            "chart": draw(title, days, series, chart_id=panel_id, total_word=_("合计")),
            "legend": legend(series),
            "table": data_table(title, days, series, first_header=_("日期"),
                                total_header=_("合计"))}


@pages.get("/dashboard")
@staff_required("dashboard.view")
def dashboard():  # type: ignore[no-untyped-def]
    days = _days(request.args.get("days"))
    status = 200
    if days is None:
        days, status = DEFAULT_DAYS, 400
    with current_platform().db.session() as session:
        d = stats.dashboard(session, days)
    labels = [day.strftime("%m-%d") for day in d.window.days]
    panels = [
        _panel("registrations", _("每日新注册账号(按渠道)"), "bar", labels,
               _series(d.registrations, CHANNEL_LABELS)),
        _panel("logins", _("每日成功登录(按方式)"), "bar", labels,
               _series(d.logins, METHOD_LABELS)),
        _panel("failures", _("每日登录失败与账号锁定"), "line", labels,
               _series(d.failures, FAILURE_LABELS)),
        _panel("bans", _("每日封禁与解封"), "bar", labels, _series(d.bans, BAN_LABELS)),
    ]
    return render_template("admin/dashboard.html", panels=panels, days=days,
                           choices=stats.DASHBOARD_DAYS, first=d.window.days[0],
                           last=d.window.days[-1], bad_days=status == 400), status


_SERIES = {"type": "object", "additionalProperties": {"type": "array",
                                                      "items": {"type": "integer"}}}


@bp.get("/dashboard")
@operation("/api/v1/admin/dashboard", "GET", summary="Daily counts for the dashboard",
           tag="Console 管理后台", problems=(403, 422), response=schema("Dashboard", {
               "type": "object",
               "required": ["days", "registrations_by_channel", "logins_by_method",
                            "failed_logins_and_lockouts", "bans"],
               "properties": {"days": {"type": "array", "items": {"type": "string",
                                                                  "format": "date"}},
                              "registrations_by_channel": _SERIES,
                              "logins_by_method": _SERIES,
                              "failed_logins_and_lockouts": _SERIES, "bans": _SERIES}}))
@staff_api("dashboard.view")
def dashboard_api() -> Response:
    """Counts per calendar day (China Standard Time), oldest first; ``?days=`` 7, 14 or 30.

    Each series has one number per entry of ``days``: registrations per channel, successful
    sign-ins per method (``amr`` names), failed sign-ins and lockouts, bans and granted
    unbans.
    """
    days = _days(request.args.get("days"))
    if days is None:
        raise ApiProblem(422, "validation", "请求内容有误", "days must be 7, 14 or 30.",
                         errors=[{"field": "days", "code": "range"}])
    with current_platform().db.session() as session:
        d = stats.dashboard(session, days)
    resp = jsonify(d.as_dict())
    resp.headers["Cache-Control"] = "no-store"
    return resp
