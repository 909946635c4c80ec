"""Resetting a staff member's authenticator (issue 5 item 1, R-53, R-70).

Staff get no recovery codes: a lost or replaced TOTP authenticator is reset by a platform
administrator, and the staff member enrols a new one at their next sign-in
(`admin_ui.totp.StaffTotp.begin`); every session they hold ends at once (whoever has the
lost device may be signed in). Nobody resets their own — that would let a stolen
password replace the second factor it is meant to back up. Every reset, and every refusal,
is audited. Page ``/admin/staff`` and ``POST /api/v1/admin/staff/{member_id}/totp-reset``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, redirect, render_template, url_for
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

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
from idp.staff.models import StaffMember

ACTION = "staff.reset_totp"
bp = Blueprint("admin_staff_api", __name__, url_prefix="/api/v1/admin/staff")
TAG = "Console 管理后台"

_MEMBER = schema("StaffMemberTotp", {"type": "object", "properties": {
    "member_id": {"type": "integer"}, "username": {"type": "string"},
    "display_name": {"type": "string"}, "department": {"type": "string"},
    "roles": {"type": "array", "items": {"type": "string"}},
    "totp_enrolled": {"type": "boolean"}}})


class ResetRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code  # "not_found" | "own_account"


def members(session: Session) -> list[dict[str, Any]]:
    """Every staff member seen at sign-in, with whether an authenticator is enrolled."""
    enrolled = set(session.scalars(select(StaffTotpCredential.staff_member_id).where(
        StaffTotpCredential.confirmed_at.is_not(None))))
    rows = session.scalars(select(StaffMember).order_by(StaffMember.username))
    return [{"member_id": m.id, "username": m.username, "display_name": m.display_name,
             "department": m.department, "roles": list(m.roles or []),
             "last_login_at": local_time(m.last_login_at),
             "totp_enrolled": m.id in enrolled} for m in rows]


def reset_totp(session: Session, by: StaffSession, member_id: int, where: str) -> StaffMember:
    """Forget ``member_id``'s authenticator; they enrol again at the next sign-in."""
    member = session.get(StaffMember, member_id)
    if member is None:
        raise ResetRefused("not_found")
    if member.id == by.member_id:
        raise ResetRefused("own_account")
    removed = session.execute(delete(StaffTotpCredential).where(
        StaffTotpCredential.staff_member_id == member.id)).rowcount  # type: ignore[attr-defined]
    audit.record(session, actor=by.actor, action="admin:staff:totp_reset",
                 target=f"staff:{member.username}"[:128], address=where,
                 details={"member_id": member.id, "had_authenticator": bool(removed)})
    return member


def _json(m: StaffMember) -> dict[str, Any]:
    return {"member_id": m.id, "username": m.username, "display_name": m.display_name,
            "department": m.department, "roles": list(m.roles or []), "totp_enrolled": False}


# -- pages -------------------------------------------------------------------------------------

def _page(done: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    with current_platform().db.session() as session:
        rows = members(session)
    s = current_staff()
    return render_template("admin/staff.html", rows=rows, done=done,
                           me=s.member_id if s else None), status


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
            member = reset_totp(session, s, member_id, address())
            username = member.username
        console().sessions.end_member(member_id)  # committed: their sessions end now
    except ResetRefused as exc:
        if exc.code == "own_account":
            return refuse(s, ACTION, "own_account")
        return _page(status=404)
    return redirect(url_for("admin.staff_list", reset=username))


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
           summary="Reset a staff member's TOTP authenticator (enrol again at next sign-in)",
           response=_MEMBER, problems=(403, 404))
@staff_api(ACTION)
def api_reset(member_id: int) -> Response:
    """Never one's own (403 ``own_account``, audited as a refusal)."""
    try:
        with current_platform().db.session() as session:
            body = _json(reset_totp(session, g.staff, member_id, address()))
        console().sessions.end_member(member_id)  # committed: their sessions end now
    except ResetRefused as exc:
        if exc.code == "own_account":
            console().deny(g.staff, ACTION, "own_account", address())
            raise ApiProblem(403, "own_account", "不能重置本人的动态验证码",
                             "Staff may not reset their own authenticator.",
                             action=ACTION) from exc
        raise ApiProblem(404, "not_found", "工作人员不存在", "No such staff member.") from exc
    return jsonify(body)
