"""Pages and JSON for the second sign-off of a counter phone change (R-41, issue 5).

`admin_ui.counter_phone_approval` holds the rules; here: the list of a hall's pending
requests and the approval, as ``/admin/counter/phone-approvals`` and
``/api/v1/admin/counter/phone-approvals``. The asker is refused (403 ``own_request``), as
is a staff member of another hall (403 ``other_hall``); both refusals are audited.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, g, jsonify, make_response, render_template
from flask_babel import gettext as _

from admin_ui.api_auth import staff_api
from admin_ui.auth import address, console, current_staff, refuse, staff_required
from admin_ui.counter_phone import PhoneChanged
from admin_ui.counter_phone_approval import ACTION, PhoneApproval, PhoneApprovals
from admin_ui.counter_text import MESSAGES, STATUS
from admin_ui.permissions import PermissionDenied
from admin_ui.timefmt import local_time
from admin_ui.views import bp as pages
from idp.accounts.counter import CounterError
from idp.api.openapi import operation, schema
from idp.api.problems import ApiProblem
from idp.platform import current_platform

bp = Blueprint("admin_phone_approvals_api", __name__,
               url_prefix="/api/v1/admin/counter/phone-approvals")
TAG = "Console 管理后台"
_REFUSED = {"own_request": ("不能复核本人提出的换绑申请",
                            "The clerk who asked may not approve."),
            "other_hall": ("只能复核本大厅的换绑申请",
                           "Only staff of the same hall may approve.")}

APPROVAL = schema("CounterPhoneApproval", {"type": "object", "properties": {
    "id": {"type": "string"}, "requested_by": {"type": "string"}, "hall": {"type": "string"},
    "name": {"type": "string", "description": "masked"},
    "id_number": {"type": "string", "description": "masked"},
    "phone": {"type": "string", "description": "the new number, masked"},
    "expires_in": {"type": "integer"}}})


def approval_json(a: PhoneApproval) -> dict[str, Any]:
    return {"id": a.id, "requested_by": a.actor, "hall": a.hall, "name": a.name,
            "id_number": a.id_number, "phone": a.phone,
            "expires_in": max(0, a.expires - int(time.time()))}


def changed_json(done: PhoneChanged) -> dict[str, Any]:
    return {"person_id": done.person_id, "account_name": done.account_name,
            "phone": done.phone, "sessions_ended": True}


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- pages -------------------------------------------------------------------------------------

def _list(error: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    s = current_staff()
    assert s is not None
    rows = [{**asdict(a), "at": local_time_of(a.created)}
            for a in PhoneApprovals(current_platform()).pending(s)]
    resp = make_response(render_template("admin/counter_phone_approvals.html", rows=rows,
                                         error=error), status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def local_time_of(epoch: int) -> str:
    return local_time(dt.datetime.fromtimestamp(epoch, dt.UTC))


@pages.get("/counter/phone-approvals")
@staff_required(ACTION)
def counter_phone_approvals():  # type: ignore[no-untyped-def]
    return _list()


@pages.post("/counter/phone-approvals/<rid>/approve")
@staff_required(ACTION)
def counter_phone_approve(rid: str):  # type: ignore[no-untyped-def]
    s = current_staff()
    assert s is not None
    try:
        done = PhoneApprovals(current_platform()).approve(rid, s, address())
    except PermissionDenied as exc:
        return refuse(s, ACTION, exc.reason)
    except CounterError as exc:
        return _list(_(MESSAGES.get(exc.code, "办理失败,请重试。")), STATUS.get(exc.code, 400))
    resp = make_response(render_template("admin/counter_done.html", kind="phone", done=done))
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- API ---------------------------------------------------------------------------------------

@bp.get("")
@operation("/api/v1/admin/counter/phone-approvals", "GET", tag=TAG,
           summary="Pending phone changes of the caller's hall awaiting a second sign-off",
           response=schema("CounterPhoneApprovals", {"type": "object", "properties": {
               "approvals": {"type": "array", "items": APPROVAL}}}), problems=(403,))
@staff_api(ACTION)
def api_pending() -> Response:
    """Not the caller's own requests: those are for a colleague to decide."""
    rows = PhoneApprovals(current_platform()).pending(g.staff)
    return _no_store(jsonify(approvals=[approval_json(a) for a in rows]))


@bp.post("/<rid>/approval")
@operation("/api/v1/admin/counter/phone-approvals/{rid}/approval", "POST", tag=TAG,
           summary="Approve a counter phone change on a manually entered card; it is made now",
           response={"$ref": "#/components/schemas/CounterPhoneChange"}, problems=(403, 404, 409))
@staff_api(ACTION)
def api_approve(rid: str) -> Response:
    """403 ``own_request`` for the asker, ``other_hall`` for another hall (both audited)."""
    try:
        done = PhoneApprovals(current_platform()).approve(rid, g.staff, address())
    except PermissionDenied as exc:
        console().deny(g.staff, ACTION, exc.reason, address())
        title, detail = _REFUSED.get(exc.reason, ("无权执行此操作", "Not allowed."))
        raise ApiProblem(403, exc.reason, title, detail, action=ACTION) from exc
    except CounterError as exc:
        raise ApiProblem(STATUS.get(exc.code, 400), exc.code, MESSAGES.get(exc.code, "办理失败"),
                         f"Counter step refused: {exc.code}.") from exc
    return _no_store(jsonify(changed_json(done)))
