"""Legal-person registration at the counter (R-22): the console page and the JSON operation.

The work is `admin_ui.counter_org.OrgDesk.register_org`; both entry points check the same
input (`parse_application`) and answer the same outcomes (`admin_ui.counter_text`). The page
takes the scans as file uploads, the API as base64 in ``scans``. Role: ``counter.register_org``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, make_response, render_template, request
from flask_babel import gettext as _

from admin_ui.api_auth import staff_api
from admin_ui.auth import address, current_staff, staff_required
from admin_ui.counter_org import (
    DOCUMENTS,
    KINDS,
    REQUIRED_DOCUMENTS,
    REQUIRED_SCANS,
    OrgDesk,
    OrgInputError,
    OrgOpened,
    decode_scans,
    parse_application,
    upload_limit,
)
from admin_ui.counter_text import MESSAGES, STATUS
from admin_ui.views import bp as pages
from idp.accounts.counter import CounterError
from idp.api.openapi import operation, schema
from idp.api.problems import ApiProblem
from idp.orgs.licence import MESSAGES as SCAN_MESSAGES
from idp.platform import current_platform
from idp.staff.directory import N_

ACTION = "counter.register_org"
bp = Blueprint("admin_counter_org_api", __name__, url_prefix="/api/v1/admin/counter")
TAG = "Console 管理后台"

DOCUMENT_LABELS = {
    "representative_id_card": N_("法定代表人身份证原件"), "agent_id_card": N_("代理人身份证原件"),
    "power_of_attorney": N_("法定代表人签署的授权委托书"), "business_licence": N_("营业执照"),
}
KIND_LABELS = {"enterprise": N_("企业"), "social_organisation": N_("社会组织"),
               "public_institution": N_("事业单位"), "other": N_("其他组织")}
FIELD_LABELS = {"credit_code": N_("统一社会信用代码"), "name": N_("单位名称"),
                "kind": N_("单位类型"), "route": N_("办理人"), "agent_name": N_("代理人姓名"),
                "agent_id_number": N_("代理人身份证号码"),
                "agreement_signed": N_("服务协议"), "agreement_version": N_("服务协议")}
CODE_LABELS = {"missing": N_("必填。"), "type": N_("格式不正确。"), "too_long": N_("内容过长。"),
               "invalid": N_("请选择。"), "not_checked": N_("请核验并勾选。"),
               "not_signed": N_("请确认已签署书面服务协议。"),
               "outdated": N_("服务协议版本已更新,请打印并签署当前版本。"),
               "unknown": N_("不是可上传的材料。"), "image_missing": N_("请上传扫描件。"),
               "image_type": N_("扫描件须为 JPG、PNG 或 PDF 文件。"),
               "image_too_large": N_("扫描件过大。")}


# endpoint → whether its scans come as base64 in JSON
_UPLOADS = {"admin.counter_org_register": False, "admin_counter_org_api.org_registration": True}


def _room_for_scans(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Runs before the app's CSRF check reads the form, so the larger cap is in force then.
    if request.method == "POST" and endpoint in _UPLOADS:
        request.max_content_length = upload_limit(
            current_platform().settings.licence_image_max_bytes,
            base64_body=_UPLOADS[endpoint])


pages.url_value_preprocessor(_room_for_scans)
bp.url_value_preprocessor(_room_for_scans)


def _desk(member_id: int, actor: str) -> OrgDesk:
    return OrgDesk(current_platform(), member_id=member_id, actor=actor, address=address())


def _settings() -> dict[str, Any]:
    s = current_platform().settings
    return {"max_scan_bytes": s.licence_image_max_bytes,
            "agreement_version": s.agreement_version}


def _opened_json(done: OrgOpened) -> dict[str, Any]:
    return {"org_id": done.org_id, "credit_code": done.credit_code, "name": done.name,
            "kind": done.kind, "route": done.route, "representative": {
                "person_id": done.person_id, "account_name": done.account_name,
                "created": done.person_created, "realname_level": done.realname_level,
                "password": done.password, "must_change_password": done.password is not None},
            "scans": [{"id": x["id"], "kind": x["kind"], "content_type": x["type"]}
                      for x in done.scans]}


# -- page ----------------------------------------------------------------------------------------

NUMBER_WRONG = N_("号码不正确(校验位错误或格式有误)。")
FORMAT_WRONG = N_("格式不正确。")
SCAN = N_("扫描件")


def _error_text(field: str, code: str) -> str:
    """One line per problem, naming the field in the clerk's words."""
    if field.startswith("documents."):
        return _("请核验并勾选:%(doc)s。", doc=_(DOCUMENT_LABELS[field.split(".", 1)[1]]))
    if field.startswith("scans."):
        label = _(DOCUMENT_LABELS.get(field.split(".", 1)[1], SCAN))
        return label + ":" + _(CODE_LABELS.get(code, FORMAT_WRONG))
    if field in ("credit_code", "agent_id_number") and code not in CODE_LABELS:
        return _(FIELD_LABELS[field]) + ":" + _(NUMBER_WRONG)
    return _(FIELD_LABELS.get(field, field)) + ":" + _(CODE_LABELS.get(code, FORMAT_WRONG))


def _form_page(case_id: str, form: dict[str, Any], errors: list[str] | None = None,
               error: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    s = current_staff()
    assert s is not None
    try:
        case = _desk(s.member_id, s.actor).load(case_id)
    except CounterError:
        return make_response(_("办理记录不存在或已过期,请重新读卡。"), 404)
    resp = make_response(render_template(
        "admin/counter_org.html", case=case, form=form, errors=errors or [], error=error,
        documents=DOCUMENTS, doc_labels=DOCUMENT_LABELS, kinds=KINDS, kind_labels=KIND_LABELS,
        required_docs=REQUIRED_DOCUMENTS, required_scans=REQUIRED_SCANS,
        version=current_platform().settings.agreement_version), status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@pages.get("/counter/cases/<case_id>/org")
@staff_required(ACTION)
def counter_org(case_id: str):  # type: ignore[no-untyped-def]
    return _form_page(case_id, {"route": "representative", "kind": "enterprise"})


@pages.post("/counter/cases/<case_id>/org")
@staff_required(ACTION)
def counter_org_register(case_id: str):  # type: ignore[no-untyped-def]
    s = current_staff()
    assert s is not None
    form: dict[str, Any] = {k: request.form.get(k, "")[:256] for k in (
        "credit_code", "name", "kind", "route", "agent_name", "agent_id_number")}
    form["documents"] = request.form.getlist("documents")[:len(DOCUMENTS)]
    raw = {**form, "agreement_signed": request.form.get("signed") == "yes",
           "agreement_version": request.form.get("version", "")[:32]}
    scans = {doc: request.files[f"scan_{doc}"].read() for doc in DOCUMENTS
             if f"scan_{doc}" in request.files and request.files[f"scan_{doc}"].filename}
    try:
        app = parse_application(raw, scans, **_settings())
        done = _desk(s.member_id, s.actor).register_org(case_id, app)
    except OrgInputError as exc:
        return _form_page(case_id, form, [_error_text(e["field"], e["code"])
                                          for e in exc.errors], status=422)
    except CounterError as exc:
        return _form_page(case_id, form, error=_(MESSAGES.get(exc.code, "办理失败,请重试。")),
                          status=STATUS.get(exc.code, 400))
    resp = make_response(render_template("admin/counter_org_done.html", done=done,
                                         doc_labels=DOCUMENT_LABELS, kind_labels=KIND_LABELS))
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- API -----------------------------------------------------------------------------------------

_REQUEST = schema("CounterOrgRegistration", {
    "type": "object",
    "required": ["credit_code", "name", "kind", "route", "documents", "scans",
                 "agreement_signed", "agreement_version"],
    "properties": {
        "credit_code": {"type": "string", "description": "unified social credit code"},
        "name": {"type": "string", "maxLength": 200}, "kind": {"enum": list(KINDS)},
        "route": {"enum": ["representative", "agent"]},
        "agent_name": {"type": "string", "description": "route agent only"},
        "agent_id_number": {"type": "string", "description": "route agent only"},
        "documents": {"type": "array", "items": {"enum": list(DOCUMENTS)},
                      "description": "documents the clerk checked (originals)"},
        "scans": {"type": "object", "description": "document → base64 JPEG/PNG/PDF",
                  "additionalProperties": {"type": "string", "contentEncoding": "base64"}},
        "agreement_signed": {"const": True}, "agreement_version": {"type": "string"}}})
_OPENED = schema("CounterOrgOpened", {"type": "object", "properties": {
    "org_id": {"type": "integer"}, "credit_code": {"type": "string"},
    "name": {"type": "string"}, "kind": {"type": "string"}, "route": {"type": "string"},
    "representative": {"type": "object", "properties": {
        "person_id": {"type": "integer"}, "account_name": {"type": "string"},
        "created": {"type": "boolean"}, "realname_level": {"type": "integer"},
        "password": {"type": ["string", "null"], "description": "new account only, once"},
        "must_change_password": {"type": "boolean"}}},
    "scans": {"type": "array", "description": "GET /api/v1/admin/counter/scans/{id}",
              "items": {"type": "object", "properties": {
                  "id": {"type": "integer"}, "kind": {"type": "string"},
                  "content_type": {"type": "string"}}}}}})


@bp.post("/cases/<case_id>/org-registration")
@operation("/api/v1/admin/counter/cases/{case_id}/org-registration", "POST", tag=TAG,
           status=201, summary="Open a legal-person account at the counter (R-22) for the "
           "representative whose ID card the case read", request=_REQUEST, response=_OPENED,
           problems=(400, 403, 404, 409, 422, 503))
@staff_api(ACTION)
def org_registration(case_id: str) -> tuple[Response, int]:
    """Field problems are 422 ``validation`` with every ``errors`` entry at once."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiProblem(400, "invalid_json", "请求体必须是 JSON 对象",
                         "The body must be a JSON object.")
    try:
        app = parse_application(data, decode_scans(data.get("scans")), **_settings())
    except OrgInputError as exc:
        raise ApiProblem(422, "validation", "办理信息有误", "Some fields are invalid.",
                         errors=exc.errors) from exc
    try:
        done = _desk(g.staff.member_id, g.staff.actor).register_org(case_id, app)
    except CounterError as exc:
        extra = {"errors": [{"field": exc.field, "code": exc.code}]} if exc.field else {}
        raise ApiProblem(STATUS.get(exc.code, 400), exc.code,
                         MESSAGES.get(exc.code, "办理失败"),
                         f"Counter step refused: {exc.code}.", **extra) from exc
    resp = jsonify(_opened_json(done))
    resp.headers["Cache-Control"] = "no-store"
    return resp, 201


assert set(SCAN_MESSAGES) <= set(CODE_LABELS)  # every scan refusal has words on the page
