"""Ban and unban through the console's JSON API (issue 5 item 4; R-51, R-52).

The same operations and rules as the console pages (`admin_ui.bans`), for a hall's own
systems: staff bearer tokens (`admin_ui.api_auth`), roles from `ACTIONS`, refusals 403 and
audited. Conflicts (banning a banned account, deciding a decided request) are 409 problems
whose type names the state, e.g. ``urn:idp:problem:already_banned``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify

from admin_ui.api_auth import staff_api
from admin_ui.auth import address, console
from admin_ui.bans import MESSAGES, staff_ref
from admin_ui.permissions import PermissionDenied
from idp.accounts import bans
from idp.accounts.ban_models import REASON_MAX, Ban, UnbanRequest
from idp.accounts.service import Accounts
from idp.api.openapi import operation, schema
from idp.api.problems import ApiProblem, json_body
from idp.platform import current_platform

bp = Blueprint("admin_bans_api", __name__, url_prefix="/api/v1/admin")
TAG = "Console 管理后台"
BASE = "/api/v1/admin/accounts/{person_id}"

_TEXT = {"type": "string", "minLength": bans.MIN_REASON, "maxLength": REASON_MAX}
_BAN = schema("AccountBan", {"type": "object", "properties": {
    "id": {"type": "integer"}, "banned_by": {"type": "string"},
    "department": {"type": "string"}, "reason": {"type": "string"},
    "legal_basis": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
    "lifted_at": {"type": ["string", "null"], "format": "date-time"}}})
_REQUEST = schema("UnbanRequest", {"type": "object", "properties": {
    "id": {"type": "integer"}, "person_id": {"type": "integer"},
    "department": {"type": "string"}, "requested_by": {"type": "string"},
    "reason": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
    "status": {"enum": ["pending", "approved", "refused"]},
    "decided_by": {"type": ["string", "null"]},
    "decided_at": {"type": ["string", "null"], "format": "date-time"},
    "decision_reason": {"type": ["string", "null"]}}})
_ACCOUNT = schema("AccountHistory", {
    "type": "object", "required": ["person_id", "status", "bans", "unban_requests"],
    "description": "personal fields are masked (R-70)",
    "properties": {
        "person_id": {"type": "integer"}, "id_type": {"type": "string"},
        "id_number": {"type": "string"}, "name": {"type": "string"},
        "phone": {"type": ["string", "null"]}, "status": {"enum": ["active", "banned",
                                                                    "closed"]},
        "realname_level": {"type": "integer"}, "bans": {"type": "array", "items": _BAN},
        "unban_requests": {"type": "array", "items": _REQUEST}}})
_DELIVERED = {"sms_sent": {"type": "boolean"},
              "backchannel_failed": {"type": "array", "items": {"type": "string"},
                                     "description": "client ids that did not accept the "
                                                    "logout token"}}


def _time(at: Any) -> str | None:
    return at.isoformat() if at is not None else None


def ban_json(b: Ban) -> dict[str, Any]:
    return {"id": b.id, "banned_by": b.banned_by_actor, "department": b.department,
            "reason": b.reason, "legal_basis": b.legal_basis,
            "created_at": _time(b.created_at), "lifted_at": _time(b.lifted_at)}


def request_json(r: UnbanRequest) -> dict[str, Any]:
    return {"id": r.id, "person_id": r.person_id, "department": r.department,
            "requested_by": r.requested_by_actor, "reason": r.reason,
            "created_at": _time(r.created_at), "status": r.status,
            "decided_by": r.decided_by_actor, "decided_at": _time(r.decided_at),
            "decision_reason": r.decision_reason}


def _history_json(h: bans.AccountHistory) -> dict[str, Any]:
    return {"person_id": h.person_id, "id_type": h.id_type, "id_number": h.id_number,
            "name": h.name, "phone": h.phone, "status": h.status,
            "realname_level": h.realname_level, "bans": [ban_json(b) for b in h.bans],
            "unban_requests": [request_json(r) for r in h.requests]}


def _problem(exc: bans.BanError, action: str) -> ApiProblem:
    """The problem for a refused operation; department refusals are audited denials."""
    if exc.code in ("wrong_department", "no_department"):
        console().deny(g.staff, action, exc.code, address())
    if exc.code == "validation":
        return ApiProblem(422, "validation", "请求内容有误", "Some fields are invalid.",
                          errors=[{"field": exc.field, "code": "length"}])
    return ApiProblem(exc.status, exc.code, MESSAGES[exc.code], f"Refused: {exc.code}.")


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _history(person_id: int) -> dict[str, Any]:
    p = current_platform()
    with p.db.session() as session:
        return _history_json(bans.history(Accounts(session, p.protector, p.hasher), person_id))


@bp.post("/accounts/lookup")
@operation("/api/v1/admin/accounts/lookup", "POST", tag=TAG, response=_ACCOUNT,
           summary="Find an account by document number or bound phone (masked)",
           problems=(400, 403, 404, 422), request=schema("AccountLookup", {
               "type": "object", "required": ["identifier"],
               "properties": {"identifier": {"type": "string", "maxLength": 64}}}))
@staff_api("account.view_history")
def lookup_account() -> Response:
    """A POST so the document number stays out of URLs and logs; audited (R-53, R-70)."""
    body = json_body({"identifier": (str, 64)})
    p = current_platform()
    try:
        with p.db.session() as session:
            accounts = Accounts(session, p.protector, p.hasher)
            found = _history_json(bans.history(accounts, bans.find_account(
                accounts, body["identifier"]).id))
    except bans.BanError as exc:
        console().record(g.staff, "admin:account:lookup", address(), outcome="failure",
                         details={"reason": exc.code, "via": "api"})
        raise _problem(exc, "account.view_history") from exc
    console().record(g.staff, "admin:account:lookup", address(),
                     target=f"person:{found['person_id']}", details={"via": "api"})
    return _no_store(jsonify(found))


@bp.get("/accounts/<int:person_id>")
@operation(BASE, "GET", summary="An account's status, bans and unban requests", tag=TAG,
           response=_ACCOUNT, problems=(403, 404))
@staff_api("account.view_history")
def account_history(person_id: int) -> Response:
    """Read-only; personal fields masked."""
    try:
        return _no_store(jsonify(_history(person_id)))
    except bans.BanError as exc:
        raise _problem(exc, "account.view_history") from exc


@bp.post("/accounts/<int:person_id>/ban")
@operation(f"{BASE}/ban", "POST", summary="Ban an account (reason and legal basis)", tag=TAG,
           status=201, problems=(400, 403, 404, 409, 422), request=schema("BanRequest", {
               "type": "object", "required": ["reason", "legal_basis"],
               "properties": {"reason": _TEXT, "legal_basis": {
                   "type": "string", "minLength": bans.MIN_LEGAL_BASIS,
                   "maxLength": REASON_MAX}}}),
           response=schema("BanDone", {"type": "object", "properties": {
               "ban": _BAN, "account": _ACCOUNT, **_DELIVERED}}))
@staff_api("account.ban")
def ban_account(person_id: int) -> tuple[Response, int]:
    """Sessions, refresh tokens and delegated authority stop at once; department systems
    get back-channel logout and the person an SMS after the commit (R-51)."""
    body = json_body({"reason": (str, REASON_MAX), "legal_basis": (str, REASON_MAX)})
    p = current_platform()
    try:
        with p.db.session() as session:
            outcome = bans.ban(p, session, person_id, by=staff_ref(g.staff),
                               reason=body["reason"], legal_basis=body["legal_basis"],
                               address=address())
    except bans.BanError as exc:
        raise _problem(exc, "account.ban") from exc
    delivery = bans.deliver(p, outcome)
    account = _history(person_id)
    return _no_store(jsonify(ban=account["bans"][0], account=account,
                             sms_sent=delivery.sms_sent,
                             backchannel_failed=delivery.failed_clients)), 201


@bp.post("/accounts/<int:person_id>/unban-request")
@operation(f"{BASE}/unban-request", "POST", summary="Ask for a ban to be lifted", tag=TAG,
           status=201, problems=(400, 403, 404, 409, 422), response=_REQUEST,
           request=schema("UnbanAsk", {"type": "object", "required": ["reason"],
                                       "properties": {"reason": _TEXT}}))
@staff_api("account.request_unban")
def request_account_unban(person_id: int) -> tuple[Response, int]:
    """One pending request per account; a department head of the managing department
    decides, never the one who asked (R-52)."""
    body = json_body({"reason": (str, REASON_MAX)})
    try:
        with current_platform().db.session() as session:
            req = request_json(bans.request_unban(session, person_id, by=staff_ref(g.staff),
                                                  reason=body["reason"], address=address()))
    except bans.BanError as exc:
        raise _problem(exc, "account.request_unban") from exc
    return _no_store(jsonify(req)), 201


_DECISION = schema("UnbanDecision", {"type": "object", "properties": {
    "reason": {"type": "string", "maxLength": REASON_MAX,
               "description": "required (4–200 characters) to refuse"},
    "request_id": {"type": "integer", "description": "the request being decided; a "
                                                     "decided one is 409 already_decided"}}})


def _decide(person_id: int, approve: bool) -> Response:
    action = bans.APPROVE if approve else bans.REFUSE
    body = json_body({"reason": (str, REASON_MAX), "request_id": (int, 0)},
                     optional=frozenset({"request_id", "reason"}))  # the service checks
    p = current_platform()
    try:
        with p.db.session() as session:
            outcome = bans.decide_unban(p, session, person_id, by=staff_ref(g.staff),
                                        approve=approve, reason=body["reason"] or "",
                                        address=address(), request_id=body["request_id"])
    except PermissionDenied as exc:
        console().deny(g.staff, action, exc.reason, address())
        raise ApiProblem(403, "own_request", "不能审批本人提出的申请",
                         "The staff member who asked may not decide.", action=action) from exc
    except bans.BanError as exc:
        raise _problem(exc, action) from exc
    delivery = bans.deliver(p, outcome)
    account = _history(person_id)
    decided = next(r for r in account["unban_requests"] if r["id"] == outcome.record_id)
    return _no_store(jsonify(request=decided, account=account, sms_sent=delivery.sms_sent))


_DECIDED = schema("UnbanDecided", {"type": "object", "properties": {
    "request": _REQUEST, "account": _ACCOUNT, "sms_sent": {"type": "boolean"}}})


@bp.post("/accounts/<int:person_id>/unban-request/approve")
@operation(f"{BASE}/unban-request/approve", "POST", summary="Approve the pending unban",
           tag=TAG, request=_DECISION, response=_DECIDED, problems=(400, 403, 404, 409, 422))
@staff_api("account.approve_unban")
def approve_account_unban(person_id: int) -> Response:
    """The account becomes active and the person is told by SMS (R-52)."""
    return _decide(person_id, approve=True)


@bp.post("/accounts/<int:person_id>/unban-request/refuse")
@operation(f"{BASE}/unban-request/refuse", "POST", summary="Refuse the pending unban",
           tag=TAG, request=_DECISION, response=_DECIDED, problems=(400, 403, 404, 409, 422))
@staff_api("account.refuse_unban")
def refuse_account_unban(person_id: int) -> Response:
    """A reason is required; the account stays banned."""
    return _decide(person_id, approve=False)


@bp.get("/unban-requests")
@operation("/api/v1/admin/unban-requests", "GET", tag=TAG, problems=(403,),
           summary="Pending unban requests of the caller's managing department",
           response=schema("UnbanRequests", {"type": "object", "properties": {
               "requests": {"type": "array", "items": _REQUEST}}}))
@staff_api("account.approve_unban")
def list_unban_requests() -> Response:
    """Oldest first, at most 200."""
    with current_platform().db.session() as session:
        rows = [request_json(r) for r in bans.pending_for_department(session,
                                                                     g.staff.department)]
    return _no_store(jsonify(requests=rows))
