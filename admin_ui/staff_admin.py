"""Resetting a staff member's authenticator (issue 5 item 1, R-53, R-70).

Staff get no recovery codes: a lost or replaced TOTP authenticator is reset by a platform
administrator, and every session the staff member holds ends at once (whoever has the lost
device may be signed in). A reset is not trust-on-first-use: it yields a one-time
enrolment code (`admin_ui.enrolment_code`), shown once to the administrator to hand over
out of band, without which the next sign-in cannot enrol a new authenticator. Nobody
resets their own, and a single administrator never resets another platform administrator
(403 ``target_is_admin``): that would let one stolen admin password take a second admin
account. An administrator's lost authenticator goes through the directory instead (its
administrators remove the platform-administrator group, the reset is done, the group is
restored): two people. Every reset, and every refusal, is audited
(``admin:staff:totp_reset``). Page ``/admin/staff`` and
``POST /api/v1/admin/staff/{member_id}/totp-reset``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, g, jsonify, make_response, render_template
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from admin_ui import enrolment_code
from admin_ui.api_auth import staff_api
from admin_ui.auth import address, console, current_staff, refuse, staff_required
from admin_ui.models import StaffTotpCredential
from admin_ui.sessions import StaffSession
from admin_ui.timefmt import local_time
from admin_ui.views import bp as pages
from idp.api.openapi import operation, schema
from idp.api.problems import ApiProblem
from idp.audit import service as audit
from idp.platform import current_platform
from idp.staff.directory import Role
from idp.staff.models import StaffMember

ACTION = "staff.reset_totp"
bp = Blueprint("admin_staff_api", __name__, url_prefix="/api/v1/admin/staff")
TAG = "Console 管理后台"

_MEMBER = schema("StaffMemberTotp", {"type": "object", "properties": {
    "member_id": {"type": "integer"}, "username": {"type": "string"},
    "display_name": {"type": "string"}, "department": {"type": "string"},
    "roles": {"type": "array", "items": {"type": "string"}},
    "totp_enrolled": {"type": "boolean"},
    "enrolment_code": {"type": "string", "description": "after a reset only; shown once"},
    "enrolment_code_expires_at": {"type": "string", "format": "date-time"}}})


class ResetRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code  # "not_found" | "own_account" | "target_is_admin"


_REFUSALS = {  # code → (status, zh title, en detail)
    "not_found": (404, "工作人员不存在", "No such staff member."),
    "own_account": (403, "不能重置本人的动态验证码",
                    "Staff may not reset their own authenticator."),
    "target_is_admin": (403, "不能由一名管理员重置平台管理员的动态验证码",
                        "A platform administrator's authenticator is not reset by a single "
                        "administrator: remove the role in the directory first."),
}


def members(session: Session) -> list[dict[str, Any]]:
    """Every staff member seen at sign-in, with whether an authenticator is enrolled."""
    enrolled = set(session.scalars(select(StaffTotpCredential.staff_member_id).where(
        StaffTotpCredential.confirmed_at.is_not(None))))
    rows = session.scalars(select(StaffMember).order_by(StaffMember.username))
    return [{"member_id": m.id, "username": m.username, "display_name": m.display_name,
             "department": m.department, "roles": list(m.roles or []),
             "last_login_at": local_time(m.last_login_at),
             "totp_enrolled": m.id in enrolled} for m in rows]


def reset_totp(session: Session, by: StaffSession, member_id: int, where: str
               ) -> tuple[StaffMember, str, dt.datetime]:
    """Forget ``member_id``'s authenticator; the one-time enrolment code and its expiry.

    Refusals raise `ResetRefused`; the caller audits them (`audit_refusal`) in a
    transaction of its own, since this one rolls back.
    """
    member = session.get(StaffMember, member_id)
    if member is None:
        raise ResetRefused("not_found")
    if member.id == by.member_id:
        raise ResetRefused("own_account")
    if Role.PLATFORM_ADMIN.value in (member.roles or []):
        raise ResetRefused("target_is_admin")
    removed = session.execute(delete(StaffTotpCredential).where(
        StaffTotpCredential.staff_member_id == member.id)).rowcount  # type: ignore[attr-defined]
    settings = current_platform().settings
    code, expires = enrolment_code.issue(session, settings.secret_key, member.id, by=by.actor,
                                         ttl=settings.staff_enrolment_code_ttl)
    audit.record(session, actor=by.actor, action="admin:staff:totp_reset",
                 target=f"staff:{member.username}"[:128], address=where,
                 details={"member_id": member.id, "had_authenticator": bool(removed),
                          "enrolment_code_expires": expires.isoformat()})
    return member, code, expires


def audit_refusal(by: StaffSession, member_id: int, code: str, where: str) -> None:
    """A refused reset, in the audit log beside the resets (own account also as a denial)."""
    if code == "own_account":
        console().deny(by, ACTION, code, where)
    with current_platform().db.session() as session:
        member = session.get(StaffMember, member_id)
        target = f"staff:{member.username}" if member is not None else f"staff:#{member_id}"
        audit.record(session, actor=by.actor, action="admin:staff:totp_reset",
                     target=target[:128], outcome="refused", address=where,
                     details={"member_id": member_id, "reason": code})


def _json(m: StaffMember, code: str, expires: dt.datetime) -> dict[str, Any]:
    return {"member_id": m.id, "username": m.username, "display_name": m.display_name,
            "department": m.department, "roles": list(m.roles or []), "totp_enrolled": False,
            "enrolment_code": code, "enrolment_code_expires_at": expires.isoformat()}


# -- pages -------------------------------------------------------------------------------------

def _page(done: str = "", status: int = 200, code: str = "",
          expires: str = ""):  # type: ignore[no-untyped-def]
    with current_platform().db.session() as session:
        rows = members(session)
    s = current_staff()
    resp = make_response(render_template("admin/staff.html", rows=rows, done=done, code=code,
                                         expires=expires, me=s.member_id if s else None),
                         status)
    resp.headers["Cache-Control"] = "no-store"  # the enrolment code is shown this once
    return resp


@pages.get("/staff")
@staff_required(ACTION)
def staff_list():  # type: ignore[no-untyped-def]
    return _page()


@pages.post("/staff/<int:member_id>/reset-totp")
@staff_required(ACTION)
def staff_reset_totp(member_id: int):  # type: ignore[no-untyped-def]
    s = current_staff()
    assert s is not None
    try:
        with current_platform().db.session() as session:
            member, code, expires = reset_totp(session, s, member_id, address())
            username = member.username
        console().sessions.end_member(member_id)  # committed: their sessions end now
    except ResetRefused as exc:
        audit_refusal(s, member_id, exc.code, address())
        if exc.code == "not_found":
            return _page(status=404)
        return refuse(s, ACTION, exc.code)
    return _page(done=username, code=code, expires=local_time(expires))


# -- API ---------------------------------------------------------------------------------------

@bp.get("")
@operation("/api/v1/admin/staff", "GET", tag=TAG, summary="Staff members and their "
           "authenticators", response=schema("StaffMembers", {"type": "object", "properties": {
               "staff": {"type": "array", "items": _MEMBER}}}), problems=(403,))
@staff_api(ACTION)
def api_members() -> Response:
    with current_platform().db.session() as session:
        rows = [{k: v for k, v in r.items() if k != "last_login_at"} for r in members(session)]
    return jsonify(staff=rows)


@bp.post("/<int:member_id>/totp-reset")
@operation("/api/v1/admin/staff/{member_id}/totp-reset", "POST", tag=TAG,
           summary="Reset a staff member's TOTP authenticator; returns the one-time "
           "enrolment code (shown once) needed to enrol again",
           response=_MEMBER, problems=(403, 404))
@staff_api(ACTION)
def api_reset(member_id: int) -> Response:
    """Never one's own (403 ``own_account``) nor a platform administrator's (403
    ``target_is_admin``); every refusal audited. Hand ``enrolment_code`` over out of band."""
    try:
        with current_platform().db.session() as session:
            body = _json(*reset_totp(session, g.staff, member_id, address()))
        console().sessions.end_member(member_id)  # committed: their sessions end now
    except ResetRefused as exc:
        audit_refusal(g.staff, member_id, exc.code, address())
        status, title, detail = _REFUSALS[exc.code]
        raise ApiProblem(status, exc.code, title, detail, action=ACTION) from exc
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp
