"""Console pages for department systems: list, register, edit, rotate, disable, enable (R-54).

Issue 5 item 6. Client administrators and platform administrators change registrations;
managers, department heads and auditors may look (`admin_ui.permissions`). The operations
are `idp.oidc.clients` (create, rotate_secret, disable) and `admin_ui.client_edit.update`,
each audited with the staff member as actor in the operation's transaction. A new or rotated
secret is shown once, on a page that is not cached, and never again.
"""

from __future__ import annotations

from typing import Any

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from admin_ui import client_edit, stats
from admin_ui.auth import current_staff, staff_required
from admin_ui.charts import Series, data_table, legend, line_chart
from admin_ui.client_edit import EDITABLE, IMMUTABLE, LISTS, TEXT, FieldErrors
from admin_ui.timefmt import local_time
from admin_ui.views import bp
from idp.oidc import clients as client_service
from idp.oidc.claims import SUPPORTED_SCOPES
from idp.oidc.clients import ACCOUNT_KINDS, GRANT_TYPES, ClientError
from idp.platform import current_platform
from idp.staff.directory import N_

FIELD_LABELS = {
    "name": N_("应用名称"), "redirect_uris": N_("登录回调地址"),
    "post_logout_redirect_uris": N_("退出后跳转地址"),
    "backchannel_logout_uri": N_("后台退出通知地址"), "scope": N_("授权范围"),
    "grant_types": N_("授权方式"), "allowed_account_kinds": N_("允许的账号类型"),
    "min_realname_level": N_("最低实名等级"), "require_mfa": N_("要求两步验证"),
    "skip_consent": N_("免用户授权确认"), "allow_idcard": N_("可获取完整证件号码"),
    "public": N_("公开客户端(移动应用,无密钥)"), "token_endpoint_auth_method": N_("客户端认证方式"),
    "jwks": N_("客户端公钥(JWKS)"), "id_token_signed_response_alg": N_("ID 令牌签名算法"),
    "subject_type": N_("用户标识类型"), "registration": N_("登记信息"),
    "service_items": N_("服务事项"), "exchange_audiences": N_("可交换令牌的目标应用"),
}
CODE_MESSAGES = {
    "missing": N_("必须填写。"), "type": N_("格式不正确。"), "too_long": N_("内容过长。"),
    "too_many": N_("条目过多(最多 20 条)。"), "invalid": N_("内容无效,请检查。"),
    "required": N_("与所选设置搭配时必须填写。"), "unknown": N_("不是可填写的项目。"),
}
KIND_LABELS = {"natural": N_("自然人"), "legal_acting": N_("代表法人办事")}
GRANT_LABELS = {"authorization_code": N_("授权码(网页登录)"), "refresh_token": N_("刷新令牌"),
                "client_credentials": N_("客户端凭证(系统间调用)"),
                client_service.TOKEN_EXCHANGE: N_("令牌交换(代用户调用其他部门接口)")}
METHOD_LABELS = {"client_secret_basic": N_("密钥(HTTP Basic)"),
                 "client_secret_post": N_("密钥(表单提交)"),
                 "private_key_jwt": N_("私钥签名(private_key_jwt)"), "none": N_("无(公开客户端)")}


def _messages(exc: FieldErrors) -> dict[str, str]:
    return {e["field"]: _(CODE_MESSAGES.get(e["code"], CODE_MESSAGES["invalid"]))
            for e in exc.errors}


def _form_values(fields: tuple[str, ...]) -> dict[str, Any]:
    """The posted form as `client_edit.parse` reads it (absent checkboxes are "off")."""
    f = request.form
    values: dict[str, Any] = {}
    for name in fields:
        if name in ("grant_types", "allowed_account_kinds", "scope"):
            values[name] = f.getlist(name)[:16]
        elif name in client_edit.FLAGS:
            values[name] = "on" if f.get(name) else ""
        elif name in LISTS:  # a textarea, one URI per line
            values[name] = f.get(name, "")[:20_000].splitlines()
        elif name in TEXT:
            values[name] = f.get(name, "")[:TEXT[name] + 1]
        elif name == "jwks":
            values[name] = f.get(name, "")[:client_edit.MAX_JWKS_CHARS + 1]
        elif name == "service_items":  # a textarea, one ``code=名称|English`` per line
            values[name] = f.get(name, "")[:20_000]
        else:
            values[name] = f.get(name, "")[:8]
    return values


def _choices() -> dict[str, Any]:
    return {"scopes": SUPPORTED_SCOPES, "kinds": ACCOUNT_KINDS, "grants": GRANT_TYPES,
            "kind_labels": KIND_LABELS, "grant_labels": GRANT_LABELS,
            "method_labels": METHOD_LABELS, "labels": FIELD_LABELS}


def _secret_page(client: Any, secret: str, created: bool):  # type: ignore[no-untyped-def]
    resp = make_response(render_template("admin/clients_secret.html", client=client,
                                         secret=secret, created=created))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/clients")
@staff_required("client.view")
def clients_list():  # type: ignore[no-untyped-def]
    with current_platform().db.session() as session:
        rows = [client_service.describe(c) for c in client_service.list_clients(session)]
        usage = {cid: (count, local_time(at) if at else None)
                 for cid, (count, at) in stats.usage_summary(session).items()}
    return render_template("admin/clients_list.html", rows=rows, usage=usage,
                           method_labels=METHOD_LABELS)


@bp.get("/clients/new")
@staff_required("client.create")
def clients_new():  # type: ignore[no-untyped-def]
    return render_template("admin/clients_form.html", creating=True, c=client_service.describe(
        _blank()), errors={}, **_choices())


def _blank() -> Any:
    from idp.oidc.models import Client

    return Client(client_id="", name="", is_public=False, redirect_uris=[],
                  post_logout_redirect_uris=[], grant_types=["authorization_code"],
                  scope="openid profile", token_endpoint_auth_method="client_secret_basic",
                  id_token_signed_response_alg="ES256", subject_type="public",
                  skip_consent=False, allow_idcard=False, disabled=False,
                  allowed_account_kinds=["natural"], min_realname_level=1, require_mfa=False,
                  service_items=[], exchange_audiences=[])


@bp.post("/clients")
@staff_required("client.create")
def clients_create():  # type: ignore[no-untyped-def]
    s = current_staff()
    assert s is not None
    values = _form_values((*EDITABLE, *IMMUTABLE))
    try:
        with current_platform().db.session() as session:
            client, secret = client_edit.register(
                session, current_platform().settings.secret_key, values, actor=s.actor)
            client_id = client.client_id
    except FieldErrors as exc:
        return render_template("admin/clients_form.html", creating=True, c=_echo(values),
                               errors=_messages(exc), **_choices()), 400
    if secret is None:
        return redirect(url_for("admin.clients_detail", client_id=client_id, created=1))
    return _secret_page({"client_id": client_id, "name": values["name"].strip()}, secret, True)


def _echo(values: dict[str, Any]) -> dict[str, Any]:
    """What was typed, shaped like `describe`, to show the form again with errors."""
    echo = dict(values)
    for name in ("redirect_uris", "post_logout_redirect_uris", "exchange_audiences"):
        echo[name] = [v for v in values.get(name, []) if v.strip()]
    echo["scope"] = " ".join(values.get("scope") or [])
    echo["public"] = bool(values.get("public"))
    echo["min_realname_level"] = str(values.get("min_realname_level", ""))
    return echo


def _load(session: Any, client_id: str) -> Any:
    client = client_service.get(session, client_id[:64]) if client_id.isprintable() else None
    if client is None:
        abort(404)
    return client


@bp.get("/clients/<client_id>")
@staff_required("client.view")
def clients_detail(client_id: str):  # type: ignore[no-untyped-def]
    with current_platform().db.session() as session:
        c = client_service.describe(_load(session, client_id))
        usage = stats.client_usage(session, client_id)
    labels = [d.strftime("%m-%d") for d in usage.window.days]
    series = [Series(_("令牌签发"), tuple(usage.tokens)),
              Series(_("授权登录"), tuple(usage.authorizations))]
    chart = line_chart(_("近 30 天使用情况"), labels, series, chart_id="client-usage",
                      total_word=_("合计"))
    table = data_table(_("近 30 天使用情况(按日)"), labels, series, first_header=_("日期"),
                       total_header=_("合计"))
    return render_template("admin/clients_detail.html", c=c, usage=usage, chart=chart,
                           legend=legend(series),
                           table=table, last_use=local_time(usage.last_use)
                           if usage.last_use else None, created=bool(request.args.get("created")),
                           **_choices())


@bp.get("/clients/<client_id>/edit")
@staff_required("client.update")
def clients_edit(client_id: str):  # type: ignore[no-untyped-def]
    with current_platform().db.session() as session:
        c = client_service.describe(_load(session, client_id))
    return render_template("admin/clients_form.html", creating=False, c=c, errors={},
                           **_choices())


@bp.post("/clients/<client_id>/edit")
@staff_required("client.update")
def clients_update(client_id: str):  # type: ignore[no-untyped-def]
    s = current_staff()
    assert s is not None
    values = _form_values(EDITABLE)
    with current_platform().db.session() as session:
        current = client_service.describe(_load(session, client_id))
    try:
        with current_platform().db.session() as session:
            client_edit.update(session, client_id, values, actor=s.actor)
    except FieldErrors as exc:
        echo = {**current, **_echo(values), "public": current["public"]}
        return render_template("admin/clients_form.html", creating=False, c=echo,
                               errors=_messages(exc), **_choices()), 400
    return redirect(url_for("admin.clients_detail", client_id=client_id, saved=1))


@bp.post("/clients/<client_id>/rotate-secret")
@staff_required("client.rotate_secret")
def clients_rotate(client_id: str):  # type: ignore[no-untyped-def]
    s = current_staff()
    assert s is not None
    try:
        with current_platform().db.session() as session:
            client = _load(session, client_id)
            name = client.name
            secret = client_service.rotate_secret(
                session, current_platform().settings.secret_key, client_id, actor=s.actor)
    except ClientError:
        return render_template("admin/clients_secret.html", error=True,
                               client={"client_id": client_id}), 409
    return _secret_page({"client_id": client_id, "name": name}, secret, False)


@bp.post("/clients/<client_id>/disable")
@staff_required("client.disable")
def clients_disable(client_id: str):  # type: ignore[no-untyped-def]
    s = current_staff()
    assert s is not None
    with current_platform().db.session() as session:
        client = _load(session, client_id)
        if request.form.get("confirm") != "yes":
            return redirect(url_for("admin.clients_detail", client_id=client_id,
                                    confirm=1, _anchor="disable"))
        if not client.disabled:
            client_service.disable(session, client_id, actor=s.actor)
    return redirect(url_for("admin.clients_detail", client_id=client_id, disabled=1))


@bp.post("/clients/<client_id>/enable")
@staff_required("client.enable")
def clients_enable(client_id: str):  # type: ignore[no-untyped-def]
    """Re-enable a disabled department system (R-54); new requests are accepted again."""
    s = current_staff()
    assert s is not None
    with current_platform().db.session() as session:
        _load(session, client_id)
        client_edit.enable(session, client_id, actor=s.actor)
    return redirect(url_for("admin.clients_detail", client_id=client_id, enabled=1))
