"""QR-code login pages (R-30): show a one-time ticket, wait for the app, complete the login.

``GET /login/qr`` creates a ticket (`idp.accounts.qr`) bound to this browser by a secret in
its signed session cookie and shows it as a QR code; ``qr.js`` polls ``/login/qr/status``
every second and, once the app confirmed, posts the hidden form to ``/login/qr/complete``,
which redeems the ticket (once) and starts the SSO session for the person who confirmed.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from idp.accounts.lockout import record
from idp.accounts.qr import QrError, QrTickets, coarse_address, coarse_browser, session_level
from idp.accounts.service import AccountUnavailable, ensure_can_sign_in
from idp.accounts.totp import qr_data_uri
from idp.login_tx import LoginTransaction
from idp.platform import current_platform
from idp.ratelimit import Limit
from idp.web import flow, messages
from idp.web.sso import current_sso

bp = Blueprint("login_qr", __name__)
SESSION_KEY = "qr"
POLL_INTERVAL_MS = 1000  # the page must notice a confirmation within two seconds


def tickets() -> QrTickets:
    p = current_platform()
    return QrTickets(p.store, p.settings.secret_key, p.settings.qr_ticket_ttl)


def app_link(ticket_id: str) -> str:
    """What the QR code says: our app's scheme, the ticket, and which platform issued it."""
    issuer = current_platform().settings.issuer
    return "idp://qr-login?" + urlencode({"ticket": ticket_id, "iss": issuer})


def _mine() -> tuple[str, str]:
    """This browser's current ticket id and secret (empty when none)."""
    held = session.get(SESSION_KEY)
    if not isinstance(held, dict):
        return "", ""
    return str(held.get("id") or ""), str(held.get("secret") or "")


def _creation_limit() -> Limit:
    settings = current_platform().settings
    return Limit("qr-new", max(1, settings.qr_tickets_per_address),
                 settings.qr_tickets_window_seconds)


def _new_ticket(tx: LoginTransaction | None) -> tuple[str, int] | None:
    """A fresh ticket for this browser, replacing its previous one; None when throttled."""
    if not current_platform().limiter.hit(_creation_limit(), flow.client_address()):
        return None
    old_id, old_secret = _mine()
    if old_id:
        tickets().cancel(old_id, old_secret)
    ticket, secret = tickets().create(
        client_id=tx.client_id if tx else "", client_name=tx.client_name if tx else "",
        browser_info=coarse_browser(request.headers.get("User-Agent", "")),
        address=coarse_address(flow.client_address()))
    session[SESSION_KEY] = {"id": ticket.id, "secret": secret}
    return ticket.id, ticket.remaining(ticket.created)


def _page(tx: LoginTransaction | None, status: int = 200, *, error: str | None = None
          ) -> tuple[str, int]:
    made = _new_ticket(tx)
    if made is None:
        retry = current_platform().limiter.resets_in(_creation_limit(), flow.client_address())
        status, error = 429, messages.throttled(retry or 60)
    ticket_id, ttl = made or ("", 0)
    return render_template(
        "login_qr.html", tx=tx, tx_args=flow.tx_args(tx), ticket=ticket_id, ttl=ttl,
        qr=qr_data_uri(app_link(ticket_id)) if ticket_id else "",
        poll_ms=POLL_INTERVAL_MS, error=error,
        notice=_("登录请求已过期。登录后将进入账号中心;如需访问其他应用,请返回该应用重新登录。")
        if getattr(g, "tx_missing", False) else None), status


@bp.get("/login/qr")
def qr_login():  # type: ignore[no-untyped-def]
    """The QR tab: a one-time code for the app to scan (R-30)."""
    tx = flow.load_tx()
    s = current_sso()
    if s is not None and not (tx is not None and tx.force_login):
        if tx is not None and tx.need_mfa and "mfa" not in s.amr:
            return redirect(url_for("login.second_factor", **flow.tx_args(tx)))
        return redirect(flow.done_url(tx))
    return _page(tx)


@bp.get("/login/qr/status")
def qr_status() -> Response:
    """The waiting page's poll: ``{"state": pending|scanned|confirmed|denied|expired}``."""
    ticket_id, secret = _mine()
    state, left = tickets().status(ticket_id, secret)
    resp = jsonify(state=state.value, expires_in=left)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/login/qr/complete")
def qr_complete():  # type: ignore[no-untyped-def]
    """Redeem the confirmed ticket and sign this browser in as the person who confirmed."""
    tx = flow.load_tx()
    ticket_id, secret = _mine()
    try:
        ticket = tickets().redeem(ticket_id, secret)
    except QrError as exc:
        return _page(tx, 409 if exc.code == "not_confirmed" else 400,
                     error=_("二维码已失效或尚未在手机上确认,请重新扫码。"))
    session.pop(SESSION_KEY, None)
    with current_platform().db.session() as db:
        person = flow.accounts(db).get(ticket.person_id or 0)
        if person is None:
            return _page(tx, 400, error=_("二维码已失效或尚未在手机上确认,请重新扫码。"))
        try:
            ensure_can_sign_in(person)
        except AccountUnavailable as exc:
            record(db, "account:login:failure", person=person, address=flow.client_address(),
                   outcome="refused", method="qr", reason=exc.code)
            return _page(tx, 403, error=messages.account_status(exc.status))
        level = session_level(person.realname_level, ticket.app_level)
        record(db, "account:login:success", person=person, address=flow.client_address(),
               method="qr", app_client=ticket.app_client_id, level=level)
        return _finish(flow.begin_session(db, person, ["qr"], tx, level=level))


def _finish(resp: BaseResponse) -> BaseResponse:
    # A redirect after a POST from script: 303 makes every browser follow it with GET.
    resp.status_code = 303
    return resp
