"""The console's JSON API: every console action, same rules (issue 5; R-53, R-61).

A hall's counter system signs a staff member in (``POST /api/v1/admin/session`` with
username, password and TOTP code) and sends the returned opaque token as a bearer token.
These tokens are staff tokens, not the OIDC access tokens of the rest of ``/api/v1``:
they are only accepted here. Roles are checked on every operation (`admin_ui.api_auth`);
refusals are 403 problems and audit records.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request, stream_with_context

from admin_ui import audit_search
from admin_ui.api_auth import staff_api, staff_caller
from admin_ui.audit_search import FilterError
from admin_ui.auth import address, console
from admin_ui.reveal import MAX_REASON, RevealError, reveal_id_number
from admin_ui.service import SecondFactorError
from idp.accounts.service import Accounts
from idp.api.openapi import operation, schema
from idp.api.problems import ApiProblem, json_body
from idp.audit.service import verify_chain
from idp.platform import current_platform
from idp.staff.directory import StaffAuthError, TooManyAttempts

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")
TAG = "Console 管理后台"
_SIGN_IN_PROBLEMS = {
    "wrong_credentials": (401, "用户名或密码不正确"),
    "totp_wrong": (401, "动态验证码不正确或已使用"),
    "account_disabled": (403, "目录账号已停用"), "no_role": (403, "账号未被授予管理后台角色"),
    "totp_enrolment_required": (403, "请先在管理后台绑定动态验证码"),
    "directory_unavailable": (503, "暂时无法连接统一目录服务"), "locked": (429, "尝试次数过多"),
}
_STAFF = schema("StaffSession", {
    "type": "object", "required": ["token", "token_type", "expires_in", "staff"],
    "properties": {
        "token": {"type": "string", "description": "opaque staff bearer token"},
        "token_type": {"const": "Bearer"},
        "expires_in": {"type": "integer", "description": "absolute lifetime, seconds"},
        "idle_timeout": {"type": "integer", "description": "seconds without use"},
        "staff": {"type": "object", "properties": {
            "username": {"type": "string"}, "display_name": {"type": "string"},
            "department": {"type": "string"}, "roles": {"type": "array",
                                                        "items": {"type": "string"}}}}}})


def _accounts(session):  # type: ignore[no-untyped-def]
    p = current_platform()
    return Accounts(session, p.protector, p.hasher)


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _filter() -> audit_search.AuditFilter:
    try:
        return audit_search.parse_filter(request.args)
    except FilterError as exc:
        raise ApiProblem(422, "validation", "请求内容有误", "Some filters are invalid.",
                         errors=exc.errors) from exc


@bp.post("/session")
@operation("/api/v1/admin/session", "POST", summary="Sign a staff member in (password + TOTP)",
           tag=TAG, status=201, bearer=False, problems=(400, 401, 403, 422, 429, 503),
           request=schema("StaffSignIn", {
               "type": "object", "required": ["username", "password", "totp"],
               "properties": {"username": {"type": "string", "maxLength": 64},
                              "password": {"type": "string", "maxLength": 256},
                              "totp": {"type": "string", "maxLength": 16}}}),
           response=_STAFF)
def create_session() -> tuple[Response, int]:
    """Directory password and a TOTP code in one call; returns an opaque staff token.

    The TOTP credential must have been enrolled once in the console (``/admin/login``).
    Every attempt is audited; wrong passwords and codes lock like console sign-ins.
    """
    body = json_body({"username": (str, 64), "password": (str, 256), "totp": (str, 16)})
    try:
        token, s = console().api_sign_in(body["username"], body["password"], body["totp"],
                                         address())
    except (StaffAuthError, SecondFactorError) as exc:
        status, title = _SIGN_IN_PROBLEMS.get(exc.code, (401, "登录失败"))
        extra = {"retry_after": exc.retry_after} if isinstance(exc, TooManyAttempts) else {}
        raise ApiProblem(status, exc.code, title, f"Staff sign-in refused: {exc.code}.",
                         **extra) from exc
    settings = current_platform().settings
    return _no_store(jsonify(
        token=token, token_type="Bearer", expires_in=settings.staff_api_token_lifetime,
        idle_timeout=settings.staff_session_idle_timeout,
        staff={"username": s.username, "display_name": s.display_name,
               "department": s.department, "roles": s.roles})), 201


@bp.delete("/session")
@operation("/api/v1/admin/session", "DELETE", summary="End the staff token", tag=TAG,
           status=204, problems=())
def end_session() -> Response:
    """Sign out: the token stops working at once."""
    console().sign_out(staff_caller(), address())
    return Response(status=204)


_EntriesDoc = schema("AuditEntries", {
    "type": "object", "required": ["entries"],
    "properties": {"entries": {"type": "array", "items": {"type": "object"}},
                   "next_before": {"type": ["integer", "null"],
                                   "description": "pass as ?before= for the next page"}}})


@bp.get("/audit")
@operation("/api/v1/admin/audit", "GET", summary="Search the audit log", tag=TAG,
           response=_EntriesDoc, problems=(403, 422))
@staff_api("audit.search")
def audit_entries() -> Response:
    """Newest first, keyset-paginated (R-53).

    Query: actor, action, target (prefix match; a document number as target finds that
    person's records), address, outcome, since/until (YYYY-MM-DD, China Standard Time),
    before (the ``next_before`` cursor), limit (at most 200).
    """
    f = _filter()
    with current_platform().db.session() as session:
        page = audit_search.search(session, _accounts(session), f)
    console().record(g.staff, "admin:audit:search", address(),
                     details={"filter": f.as_dict(), "rows": len(page.rows), "via": "api"})
    return _no_store(jsonify(entries=page.rows, next_before=page.next_before))


@bp.get("/audit/export.csv")
@operation("/api/v1/admin/audit/export.csv", "GET", summary="Export the audit log as CSV",
           tag=TAG, problems=(403, 422))
@staff_api("audit.export")
def audit_export() -> Response:
    """The same filters as the search; at most 10,000 records, UTF-8 with BOM."""
    f = _filter()
    with current_platform().db.session() as session:
        chunks, count = audit_search.export_csv(session, _accounts(session), f)
    console().record(g.staff, "admin:audit:export", address(),
                     details={"filter": f.as_dict(), "rows": count, "via": "api"})
    resp = Response(stream_with_context(chunks), mimetype="text/csv")
    resp.headers["Content-Disposition"] = 'attachment; filename="audit.csv"'
    return _no_store(resp)


@bp.post("/audit/verify")
@operation("/api/v1/admin/audit/verify", "POST", summary="Check the audit hash chain",
           tag=TAG, problems=(403,), response=schema("ChainCheck", {
               "type": "object", "required": ["ok", "checked"],
               "properties": {"ok": {"type": "boolean"}, "checked": {"type": "integer"},
                              "first_broken": {"type": ["integer", "null"]},
                              "reason": {"type": "string"}}}))
@staff_api("audit.verify_chain")
def audit_verify() -> Response:
    """Recompute every record's hash and link; name the first broken one (R-53, R-71)."""
    with current_platform().db.session() as session:
        check = verify_chain(session)
    console().record(g.staff, "admin:audit:verify_chain", address(),
                     outcome="success" if check.ok else "failure",
                     details={"checked": check.checked, "ok": check.ok, "via": "api"})
    return _no_store(jsonify(ok=check.ok, checked=check.checked,
                             first_broken=check.first_broken, reason=check.reason))


@bp.post("/persons/<int:person_id>/id-number")
@operation("/api/v1/admin/persons/{person_id}/id-number", "POST",
           summary="Reveal a person's full document number (audited, with a reason)",
           tag=TAG, problems=(403, 404, 422), request=schema("RevealRequest", {
               "type": "object", "required": ["reason"],
               "properties": {"reason": {"type": "string", "minLength": 4,
                                         "maxLength": MAX_REASON}}}),
           response=schema("RevealedIdNumber", {
               "type": "object", "required": ["id_number", "masked", "id_type"],
               "properties": {"id_number": {"type": "string"}, "masked": {"type": "string"},
                              "id_type": {"type": "string"}}}))
@staff_api("person.reveal_id_number")
def reveal(person_id: int) -> Response:
    """Only roles allowed it; the reveal and its reason are audited (R-53, R-70)."""
    body = json_body({"reason": (str, MAX_REASON)})
    try:
        with current_platform().db.session() as session:
            shown = reveal_id_number(session, _accounts(session), person_id,
                                     actor=g.staff.actor, reason=body["reason"],
                                     address=address())
    except RevealError as exc:
        if exc.code == "not_found":
            raise ApiProblem(404, "not_found", "账号不存在", "No such person.") from exc
        raise ApiProblem(422, "validation", "请求内容有误", "A reason of 4–200 characters "
                         "is required.", errors=[{"field": "reason", "code": "length"}]) from exc
    return _no_store(jsonify(id_number=shown.full, masked=shown.masked, id_type=shown.id_type))
