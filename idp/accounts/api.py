"""QR login, the app's side (R-30): scan a ticket, then confirm or deny it.

The mobile app is an OIDC public client of this platform; it calls these operations with
the access token of the person signed in on it (RFC 6750). Only clients listed in the
``qr_app_clients`` setting may: otherwise any relying party holding a person's token could
sign a browser of its choosing into the platform as that person.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from idp.accounts.lockout import record
from idp.accounts.models import Person
from idp.accounts.qr import QrError, QrTickets, Ticket
from idp.api.auth import require_bearer
from idp.api.openapi import operation, schema
from idp.api.problems import ApiProblem
from idp.platform import current_platform

bp = Blueprint("qr_api", __name__, url_prefix="/api/v1/qr")
TAG = "QR login 扫码登录"

_TICKET = schema("QrTicket", {
    "type": "object", "required": ["ticket", "state", "expires_in"],
    "properties": {
        "ticket": {"type": "string"},
        "state": {"type": "string", "enum": ["pending", "scanned", "confirmed", "denied"]},
        "client_name": {"type": "string", "description": "the site waiting for the login; "
                        "empty for the platform's own account centre"},
        "browser": {"type": "string", "description": "coarse: browser family and OS"},
        "network": {"type": "string", "description": "coarse: the browser's network"},
        "expires_in": {"type": "integer", "description": "seconds"},
    }})

# QrError code → (status, problem code, Chinese title, English detail)
_PROBLEMS = {
    "expired": (404, "qr_ticket_expired", "二维码已失效", "The ticket is unknown or expired."),
    "taken": (409, "qr_ticket_taken", "二维码已被他人扫描",
              "Another person scanned this ticket first."),
    "not_scanned": (409, "qr_ticket_not_scanned", "请先扫描二维码",
                    "Scan the ticket before confirming or denying it."),
    "already_decided": (409, "qr_ticket_decided", "该二维码已确认或已拒绝",
                        "The ticket was already confirmed or denied."),
}


def _tickets() -> QrTickets:
    p = current_platform()
    return QrTickets(p.store, p.settings.secret_key, p.settings.qr_ticket_ttl)


def _allowed_clients() -> set[str]:
    raw = current_platform().settings.qr_app_clients
    return {c for c in raw.replace(",", " ").split() if c}


def _check_client() -> None:
    if g.api_caller.client_id not in _allowed_clients():
        raise ApiProblem(403, "client_not_allowed", "该应用不能用于扫码登录",
                         "This client may not confirm QR logins.")


def _run(action: str, work: Any) -> Ticket:
    """Do one ticket operation for the calling person, audited whatever the outcome."""
    person_id = g.api_caller.person_id
    outcome, reason = "failure", "client_not_allowed"
    try:
        _check_client()
        ticket: Ticket = work(person_id)
        outcome, reason = "success", ""
        return ticket
    except QrError as exc:
        reason = exc.code
        status, code, title, detail = _PROBLEMS.get(exc.code, _PROBLEMS["expired"])
        raise ApiProblem(status, code, title, detail) from exc
    finally:
        with current_platform().db.session() as db:
            record(db, f"account:qr:{action}", person=db.get(Person, person_id),
                   address=request.remote_addr or "-", outcome=outcome,
                   client=g.api_caller.client_id, **({"reason": reason} if reason else {}))


def _answer(ticket: Ticket) -> Response:
    resp = jsonify(ticket=ticket.id, state=ticket.state, client_name=ticket.client_name,
                   browser=ticket.browser_info, network=ticket.address,
                   expires_in=ticket.remaining(int(time.time())))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/<ticket>/scan")
@operation("/api/v1/qr/{ticket}/scan", "POST", summary="Scan a login QR code", tag=TAG,
           response=_TICKET, problems=(403, 404, 409))
@require_bearer("openid", person=True)
def scan_ticket(ticket: str) -> Response:
    """Claim the ticket for the signed-in person and learn which site is asking (R-30).

    The answer names the waiting site and the browser's coarse description, for the app's
    "is this you?" screen. Scanning again by the same person is harmless.
    """
    app_client = g.api_caller.client_id
    return _answer(_run("scan", lambda pid: _tickets().scan(
        ticket, person_id=pid, app_client_id=app_client)))


@bp.post("/<ticket>/confirm")
@operation("/api/v1/qr/{ticket}/confirm", "POST", summary="Confirm a QR login", tag=TAG,
           response=_TICKET, problems=(403, 404, 409))
@require_bearer("openid", person=True)
def confirm_ticket(ticket: str) -> Response:
    """Approve the login; the waiting browser signs in within two seconds (R-30).

    The browser's session is worth no more than the app's own sign-in: its level is the
    lower of the account's and the one in this token's ``acr``.
    """
    acr = str(g.api_caller.claims.get("acr") or "")
    return _answer(_run("confirm", lambda pid: _tickets().confirm(
        ticket, person_id=pid, app_acr=acr)))


@bp.post("/<ticket>/deny")
@operation("/api/v1/qr/{ticket}/deny", "POST", summary="Refuse a QR login", tag=TAG,
           response=_TICKET, problems=(403, 404, 409))
@require_bearer("openid", person=True)
def deny_ticket(ticket: str) -> Response:
    """Refuse the login: the browser is told and the ticket can never be confirmed."""
    return _answer(_run("deny", lambda pid: _tickets().deny(ticket, person_id=pid)))
