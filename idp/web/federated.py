"""Pages of brokered logins: "registered in another region" and the home node's return (R-62).

Separate mode (分建): the person enters their document; the directory names the home node;
we send the browser there as an RP (idp/federation/rp.py) and, back at `/federation/callback`,
link a local federated account and begin a local SSO session (amr ``fed`` plus the home's).
Unified-separate mode (统分): this node holds no accounts; every login and registration page
redirects to the parent province the same way, without a directory lookup.

Stable element ids for scripted flows: ``#federated-login`` (link on the login page),
``#doc-number``, ``#federated-continue``, ``#use-existing-account`` (registration page).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from idp.federation import broker, peer_clients, rp
from idp.federation.directory import DirectoryError, DirectoryUnavailable, RateLimited
from idp.federation.node import FederationNode, federation
from idp.login_tx import LoginTransaction
from idp.oidc.logout import send_notices
from idp.platform import Platform, current_platform
from idp.realname.registration import ONLINE_DOCUMENTS
from idp.web import flow

log = logging.getLogger(__name__)
bp = Blueprint("federated", __name__)
_STATES = "fed_states"  # Flask session: states this browser started
MAX_STATES = 3

# Local account pages a unified-separate node does not serve: they go to the parent.
_LOCAL_ONLY = ("login.password_login", "login.sms_login", "login.second_factor",
               "login.password_change", "login_qr.", "login_face.", "register.",
               "selfservice.")


def _node() -> FederationNode:
    return federation(current_platform())


def _unified_separate() -> bool:
    config = _node().config
    return config.enabled and config.mode == "unified_separate" and bool(config.parent)


def _messages() -> dict[str, str]:
    return {
        "unreachable": _("暂时无法连接您注册地的平台,请稍后再试。本地区注册的用户不受影响。"),
        "directory": _("暂时无法查询全国互认目录,请稍后再试。本地区注册的用户不受影响。"),
        "untrusted": _("无法确认您注册地平台的身份,已停止登录。"),
        "state": _("登录请求已过期或已使用,请重新开始。"),
        "denied": _("您注册地的平台未完成登录,请重新开始。"),
        "invalid_token": _("注册地平台返回的登录结果无效,已停止登录。"),
        "conflict": _("该证件已在本平台注册,请使用本平台账号登录。"),
        "unavailable": _("该账号在本平台不可用,请联系客服。"),
        "not_found": _("未找到该证件的注册记录,请先注册。"),
        "local": _("该证件在本平台注册,请直接使用本平台账号登录。"),
        "rate_limited": _("查询过于频繁,请稍后再试。"),
        "format": _("请选择证件类型并输入证件号码。"),
        "not_federated": _("本平台未开通跨地区登录,请使用本平台账号登录。"),
    }


_STATUS = {"unreachable": 503, "directory": 503, "untrusted": 502, "state": 400,
           "denied": 403, "invalid_token": 502, "conflict": 409, "unavailable": 403,
           "not_found": 404, "local": 409, "rate_limited": 429, "format": 400,
           "not_federated": 404}


def _form_page(tx: LoginTransaction | None, reason: str | None = None,
               id_type: str = "resident_id", number: str = "") -> tuple[str, int]:
    return render_template(
        "federated_login.html", tx=tx, tx_args=flow.tx_args(tx),
        error=_messages()[reason] if reason else None, id_types=list(ONLINE_DOCUMENTS),
        id_type=id_type, number=number), _STATUS.get(reason or "", 200)


def _error_page(reason: str) -> tuple[str, int]:
    return render_template("error.html", title=_("跨地区登录"),
                           message=_messages()[reason]), _STATUS[reason]


def _to_home(home: str, tx: LoginTransaction | None,
             purpose: str) -> BaseResponse | tuple[str, int]:
    node = _node()
    try:
        url, state = rp.start(node, home, tx_id=tx.id if tx else "", purpose=purpose,
                              ui_locales=tx.ui_locales if tx else "")
    except rp.BrokerError as exc:
        broker.refused(node.platform, exc, home, flow.client_address())
        return _error_page(exc.reason)
    # Bind the state to this browser: a callback URL made in another browser (login CSRF)
    # is refused. A few are kept for several tabs.
    session[_STATES] = [*session.get(_STATES, [])[-(MAX_STATES - 1):], state]
    return redirect(url, 303)


def _started_here(state: str) -> bool:
    started = session.get(_STATES, [])
    if state and state in started:
        session[_STATES] = [s for s in started if s != state]
        return True
    return False


@bp.route("/login/federated", methods=["GET", "POST"])
def federated_login():  # type: ignore[no-untyped-def]
    """"Registered in another region": find the home node, sign in there (issue 6 item 3)."""
    tx = flow.load_tx()
    node = _node()
    if not node.config.enabled:  # a stand-alone node: nothing is down, there is no federation
        return _error_page("not_federated")
    if _unified_separate():
        return _to_home(node.config.parent, tx, "parent")
    if request.method == "GET":
        return _form_page(tx)
    id_type, number = flow.form_text("id_type", 32), flow.form_text("id_number", 64)
    if not id_type or not number or id_type not in ONLINE_DOCUMENTS:
        return _form_page(tx, "format", id_type or "resident_id", (number or "")[:64])
    home, reason = find_home(node, id_type, number)
    if reason:
        return _form_page(tx, reason, id_type, number)
    assert home is not None
    return _to_home(home, tx, "login")


def find_home(node: FederationNode, id_type: str, number: str) -> tuple[str | None, str | None]:
    """The document's home node when it is another node, else the reason to stop.

    Lookups are rate-limited per browser address and audited by the directory itself.
    """
    from idp.accounts.service import normalize_document

    try:
        home = node.directory.find_home(id_type, normalize_document(number),
                                        requester=f"web:{flow.client_address()}")
    except RateLimited:
        return None, "rate_limited"
    except DirectoryUnavailable:
        return None, "directory"
    except DirectoryError:
        return None, "format"
    if home is None:
        return None, "not_found"
    if home == node.entity_id:
        return None, "local"
    return home, None


@bp.get(rp.CALLBACK_PATH)
def callback():  # type: ignore[no-untyped-def]
    """The home node's answer: verify, link, begin a local session, resume the request."""
    node = _node()
    state = request.args.get("state", "")[:64]
    started = rp.peek_state(node, state) or {}
    tx = current_platform().login_txs.load(started.get("tx")) if started.get("tx") else None
    home = str(started.get("home", ""))
    address = flow.client_address()
    if request.args.get("error"):
        exc = rp.BrokerError("denied", request.args.get("error", "")[:64])
        rp.discard_state(node, state)
        broker.refused(node.platform, exc, home, address)
        return _error_page("denied")
    try:
        if not _started_here(state):
            rp.discard_state(node, state)
            raise rp.BrokerError("state", "started in another browser")
        identity = rp.finish(node, state, request.args.get("code", ""),
                             request.args.get("iss"))
        with node.platform.db.session() as db:
            person, level = broker.link(node.platform, db, identity, home, address)
            amr = ["fed", *[a for a in identity.amr if a != "fed"]][:8]
            return flow.begin_session(db, person, amr, tx, level=level)
    except rp.BrokerError as exc:
        log.info("brokered login refused home=%s reason=%s", home, exc.reason)
        broker.refused(node.platform, exc, home, address)
        return _error_page(exc.reason if exc.reason in _STATUS else "denied")


@bp.post(rp.BACKCHANNEL_PATH)
def backchannel_logout():  # type: ignore[no-untyped-def]
    """A home (or parent) node ended the person's session: end ours, tell our clients."""
    node = _node()
    platform = node.platform
    try:
        claims = rp.verify_logout_token(node, request.form.get("logout_token"))
    except rp.BrokerError as exc:
        broker.refused(platform, exc, "", flow.client_address())
        return {"error": "invalid_request", "error_description": exc.reason}, 400
    with platform.db.session() as db:
        notices = broker.end_linked_sessions(platform, db, str(claims["iss"]).rstrip("/"),
                                             str(claims["sub"]), flow.client_address())
    send_notices(platform, notices)
    return "", 200, {"Cache-Control": "no-store"}


def registered_elsewhere(id_type: str, number: str) -> str | None:
    """For registration: the other node holding this document, if the directory knows one.

    A directory that cannot be asked does not block a local registration (local users are
    unaffected by federation outages).
    """
    node = _node()
    if not node.config.enabled or node.config.directory_key is None:
        return None
    home, _reason = find_home(node, id_type, number)
    return home


def offer_existing_account(tx: LoginTransaction | None, id_type: str,
                           number: str) -> tuple[str, int]:
    """"Sign in with the account you have" instead of a second registration (issue 6)."""
    return render_template("federated_offer.html", tx=tx, tx_args=flow.tx_args(tx),
                           id_type=id_type, number=number), 409


def _redirect_local_pages() -> BaseResponse | None:
    """Unified-separate: local account pages send the browser to the parent's login."""
    endpoint = request.endpoint or ""
    if not endpoint.startswith(_LOCAL_ONLY) or not _unified_separate():
        return None
    return redirect(url_for("federated.federated_login", **(
        {"tx": request.args["tx"]} if request.args.get("tx") else {})))


def init_app(app: Flask, platform: Platform) -> None:
    from idp import csrf

    csrf.exempt("federated.backchannel_logout")  # the home node authenticates by signature
    peer_clients.install(platform)
    app.register_blueprint(bp)
    app.before_request(_redirect_local_pages)
    # The login page offers "registered in another region" only on a federated node.
    app.context_processor(lambda: {"federated_login": bool(platform.settings.federation_level)})
