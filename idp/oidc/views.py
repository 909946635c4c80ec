"""The protocol endpoints: a thin Flask blueprint over the authorization server.

Each view opens the request's unit of work (``g.oidc_db``), lets authlib and our modules
answer, and commits; back-channel logout notices go out after the commit.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, session
from flask_babel import gettext as _

from idp.login_tx import LoginTransaction
from idp.oidc import authorize, consent, logout
from idp.oidc.discovery import provider_metadata
from idp.oidc.server import IdpAuthorizationServer
from idp.oidc.userinfo import BearerError, UserInfo, bearer_token
from idp.platform import current_platform
from idp.web.sso import clear_sso_cookie, current_sso

bp = Blueprint("oidc", __name__, template_folder="templates")


def server() -> IdpAuthorizationServer:
    return current_app.extensions["oidc"]  # type: ignore[no-any-return]


def _in_transaction(work: Callable[[], Response], read_only: bool = False) -> Response:
    """Run ``work`` with the request's database session (`IdpAuthorizationServer.db`): a
    transaction, or for endpoints that never write a transaction-less reader
    (db.Database.reader: no BEGIN/COMMIT round trips). The session is opened only when
    first used — a client_credentials grant with a cached client needs none at all."""
    server().keys.warm()
    db = current_platform().db
    with ExitStack() as stack:
        g.oidc_db_open = lambda: stack.enter_context(db.reader() if read_only
                                                      else db.session())
        try:
            return work()
        finally:
            g.pop("oidc_db", None)
            g.pop("oidc_db_open", None)


def _oauth_json_error(error: str, description: str, status: int = 400) -> Response:
    resp = jsonify({"error": error, "error_description": description})
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _protocol(work: Callable[[], Response], read_only: bool = False) -> Response:
    """Run a token-style endpoint; malformed input becomes ``invalid_request``, never a 500."""
    try:
        return _in_transaction(work, read_only)
    except ValueError:  # authlib refuses to echo non-ASCII input in an error description
        return _oauth_json_error("invalid_request", "Malformed request.")


# -- discovery ---------------------------------------------------------------------------------


@bp.get("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    resp = _metadata_response()
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


def _metadata_response() -> Response:
    """``jsonify(provider_metadata(issuer))``, serialised once per app (the document is a
    constant of the issuer; encoding it was a third of the endpoint's CPU)."""
    app = current_app
    key = (current_platform().settings.issuer, app.debug)
    cache: dict[tuple[str, bool], str] = app.extensions.setdefault("oidc.metadata", {})
    text = cache.get(key)
    if text is None:
        text = cache[key] = jsonify(provider_metadata(key[0])).get_data(as_text=True)
    return app.response_class(text, mimetype=app.json.mimetype)  # type: ignore[attr-defined]


@bp.get("/jwks")
@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    resp = jsonify(server().keys.jwks())
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


# -- authorization -----------------------------------------------------------------------------


def _multi(source: Any) -> dict[str, list[str]]:
    return {k: source.getlist(k) for k in source}


@bp.route("/authorize", methods=["GET", "POST"])
def authorize_endpoint() -> Response:
    # OIDC Core §3.1.2.1: GET query or POST form; the RP's cross-site POST is CSRF-exempt.
    params = _multi(request.form if request.method == "POST" else request.args)
    return _in_transaction(lambda: authorize.handle(server(), params))


@bp.get("/authorize/resume")
def authorize_resume() -> Response:
    """Where the login pages send the browser back (login_tx.py)."""
    return resume(current_platform().login_txs.load(request.args.get("tx")))


def resume(tx: LoginTransaction | None) -> Response:
    """Re-run the waiting authorization request ``tx`` with the current SSO session.

    Also called by the login pages themselves once their transaction has committed
    (`idp.web.flow.onward`), so the browser goes straight back to the client.
    """
    if tx is None or tx.extra.get("kind") != "login":
        return authorize.error_page(_("登录已过期,请返回原网站重新发起登录。"))
    multi = {k: [v] for k, v in tx.params.items() if isinstance(v, str)}
    return _in_transaction(lambda: authorize.handle(server(), multi, tx))


@bp.post("/authorize/consent")
def authorize_consent() -> Response:
    """The consent form (carries the CSRF token like every page form)."""
    platform = current_platform()
    tx = platform.login_txs.load(request.form.get("tx"))
    sso = current_sso()
    if tx is None or tx.extra.get("kind") != "consent" or sso is None \
            or sso.sid != tx.extra.get("sid"):
        return authorize.error_page(_("授权页面已过期,请返回原网站重试。"))
    allowed = request.form.get("decision") == "allow"
    multi = {k: [v] for k, v in tx.params.items() if isinstance(v, str)}

    def work() -> Response:
        if allowed:
            consent.remember(server().db(), sso.person_id, tx.client_id,
                             tx.extra.get("scope", ""))
        platform.login_txs.finish(tx.id)
        return authorize.handle(server(), multi, tx, consent_given=allowed)

    return _in_transaction(work)


# -- token, userinfo, introspection, revocation -------------------------------------------------


@bp.post("/token")
def token() -> Response:
    return _protocol(lambda: server().create_token_response())


@bp.post("/introspect")
def introspect() -> Response:
    # RFC 7662 only reads; nothing it does needs a transaction.
    return _protocol(lambda: server().create_endpoint_response("introspection"), read_only=True)


@bp.post("/revoke")
def revoke() -> Response:
    return _protocol(lambda: server().create_endpoint_response("revocation"))


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    srv = server()
    form_token = request.form.get("access_token") if request.method == "POST" else None
    urlencoded = request.mimetype == "application/x-www-form-urlencoded"

    def work() -> Response:
        found = bearer_token(request.headers.get("Authorization"), form_token,
                             request.method, urlencoded)
        claims = UserInfo(current_platform(), srv.verifier).claims(
            srv.db, found, srv.query_client, srv.remote_addr())  # opened only if needed
        resp = jsonify(claims)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    try:
        # Reads only; the audit record of an ``idcard`` release opens its own transaction.
        return _in_transaction(work, read_only=True)
    except BearerError as exc:
        resp = _oauth_json_error(exc.error, exc.description, exc.status)
        resp.headers["WWW-Authenticate"] = exc.www_authenticate
        return resp


# -- logout ------------------------------------------------------------------------------------


def _confirmed() -> bool:
    """A POST from our own confirmation page (CSRF token checked here: the endpoint is
    exempt because RPs may POST logout requests cross-site)."""
    if request.method != "POST" or request.form.get("confirm") != "1":
        return False
    sent, expected = request.form.get("csrf_token") or "", session.get("csrf") or ""
    return bool(expected) and hmac.compare_digest(str(sent).encode(), str(expected).encode())


@bp.route("/end_session", methods=["GET", "POST"])
def end_session() -> Response:
    """RP-Initiated Logout 1.0 §2-3; back-channel notices after the commit."""
    srv = server()
    platform = current_platform()
    sso = current_sso(include_pending=True)
    notices: list[logout.LogoutNotice] = []

    def work() -> Response:
        try:
            req = srv.validate_endpoint_request("end_session")
        except OAuth2Error as error:
            return authorize.error_page(_("退出请求无效(%(code)s)。",
                                                    code=error.error or "invalid_request"))
        if sso is not None and req.needs_confirmation and not _confirmed():
            params = {k: v for k, v in request.values.items()
                      if k in ("client_id", "post_logout_redirect_uri", "state", "ui_locales")}
            authorize.set_locale(params.get("ui_locales", ""))
            return Response(render_template("oidc/logout_confirm.html", params=params),
                            mimetype="text/html")
        if sso is not None:
            notices.extend(logout.end_browser_session(platform, server().db(), sso.sid,
                                                      "rp_initiated", address=srv.remote_addr()))
        resp = srv.create_endpoint_response("end_session", req)
        if resp is None:
            resp = Response(render_template("oidc/logged_out.html"), mimetype="text/html")
        clear_sso_cookie(resp)
        return resp

    resp = _in_transaction(work)
    logout.send_notices(platform, notices)
    return resp
