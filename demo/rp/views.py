"""Pages of a demo relying party: home, sign-in, callback, sign-out, back-channel logout."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from authlib.integrations.base_client import OAuthError
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from requests import RequestException

from demo.rp.backchannel import LogoutTokenError, validate_logout_token
from demo.rp.config import RpConfig
from demo.rp.sessions import RpSessions

bp = Blueprint("rp", __name__)
log = logging.getLogger("demo.rp")
ACR_PREFIX = "urn:idp:acr:realname:"
AMR_LABELS = {"pwd": "密码 Password", "sms": "短信验证码 SMS code", "otp": "动态口令 TOTP",
              "qr": "扫码 QR code", "face": "人脸 Face", "x509": "数字证书 Certificate",
              "fed": "联合登录 Federation"}


def _config() -> RpConfig:
    return current_app.extensions["rp"]  # type: ignore[no-any-return]


def _sessions() -> RpSessions:
    return current_app.extensions["rp_sessions"]  # type: ignore[no-any-return]


def _oidc() -> Any:
    return current_app.extensions["authlib.integrations.flask_client"].idp


def current_user() -> dict[str, Any] | None:
    """The signed-in person of this browser, or None (also after a back-channel logout)."""
    return _sessions().get(session.get("lsid"))


def mask_name(name: str) -> str:
    """Show a name as ``张*`` / ``欧**``: first character only (DESIGN.md, personal data)."""
    return name[:1] + "*" * (len(name) - 1) if name else ""


def realname_level(acr: str | None) -> int | None:
    if acr and acr.startswith(ACR_PREFIX) and acr[len(ACR_PREFIX):].isdigit():
        return int(acr[len(ACR_PREFIX):])
    return None


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return str(session["csrf"])


@bp.get("/")
def home() -> str:
    signed_out = False
    if request.args.get("state"):
        try:  # back from the OP's end_session_endpoint (RP-Initiated Logout §3)
            _oidc().validate_logout_response()
            signed_out = True
        except OAuthError:
            pass
    user = current_user()
    return render_template("home.html", system=_config().system, user=user,
                           csrf_token=_csrf_token(), signed_out=signed_out,
                           amr_labels=AMR_LABELS)


@bp.get("/session.json")
def session_json() -> Response:
    """Who is signed in here, for scripts and tests; never a token or a full name."""
    user = current_user()
    if user is None:
        return jsonify(signed_in=False)
    return jsonify(signed_in=True, sub=user["sub"], sid=user.get("sid"), name=user["name"],
                   acr=user.get("acr"), level=user.get("level"), amr=user.get("amr", []))


@bp.get("/login")
def login() -> Response:
    """Start the authorization-code flow with PKCE S256 and a nonce (OIDC Core §3.1.2)."""
    if current_user() is not None:
        return redirect(url_for("rp.home"))
    try:
        return _oidc().authorize_redirect(_config().redirect_uri)  # type: ignore[no-any-return]
    except (RequestException, OAuthError, RuntimeError):
        log.warning("identity platform unreachable at sign-in")
        return _error_page("统一身份认证平台暂时无法访问，请稍后再试。",
                           "The identity platform cannot be reached; please try again later.",
                           503)


@bp.get("/callback")
def callback() -> Response:
    """Redeem the code, verify the ID token (authlib), start a server-side session."""
    try:
        token = _oidc().authorize_access_token()
    except OAuthError as exc:
        log.info("sign-in refused: %s", exc.error)
        return _error_page("登录未完成。", f"Sign-in was not completed ({exc.error}).", 400)
    except (RequestException, RuntimeError, ValueError, KeyError):
        log.warning("token exchange failed")
        return _error_page("登录失败，请重试。", "Sign-in failed; please try again.", 502)
    claims = dict(token.get("userinfo") or {})
    try:
        claims.update(_oidc().userinfo(token=token))
    except (RequestException, OAuthError, ValueError):
        log.warning("userinfo unavailable; showing ID token claims only")
    user = {"sub": claims["sub"], "sid": claims.get("sid"),
            "name": mask_name(str(claims.get("name") or "")), "acr": claims.get("acr"),
            "level": realname_level(claims.get("acr")), "amr": list(claims.get("amr") or []),
            "id_token": token.get("id_token")}
    old = session.pop("lsid", None)
    if old:
        _sessions().delete(old)
    session["lsid"] = _sessions().create(sid=user["sid"], sub=user["sub"], data=user)
    return redirect(url_for("rp.home"))


@bp.post("/logout")
def logout() -> Response:
    """End the local session, then RP-Initiated Logout at the OP (RP-Initiated Logout §2)."""
    sent = request.form.get("csrf_token", "")
    if not hmac.compare_digest(sent.encode(), _csrf_token().encode()):
        abort(400)
    user = current_user()
    local_id = session.pop("lsid", None)
    if local_id:
        _sessions().delete(local_id)
    if user is None:
        return redirect(url_for("rp.home"))
    config = _config()
    try:
        return _oidc().logout_redirect(  # type: ignore[no-any-return]
            post_logout_redirect_uri=config.post_logout_redirect_uri,
            id_token_hint=user.get("id_token"), client_id=config.client_id)
    except (RequestException, RuntimeError):
        return redirect(url_for("rp.home"))


@bp.post("/backchannel-logout")
def backchannel_logout() -> Response:
    """Receive a logout token from the OP and end the sessions it names (§2.5–§2.8)."""
    config = _config()
    try:
        logout = validate_logout_token(
            request.form.get("logout_token", ""), load_jwks=_load_jwks,
            issuer=config.issuer, client_id=config.client_id)
        if not _sessions().first_use_of_jti(logout.jti, logout.expires):
            raise LogoutTokenError("logout token replayed")
    except LogoutTokenError as exc:
        log.info("back-channel logout refused: %s", exc)
        resp = jsonify(error="invalid_request", error_description=str(exc))
        resp.status_code = 400
    else:
        ended = _sessions().end_for(sid=logout.sid, sub=logout.sub)
        log.info("back-channel logout ended %d session(s)", ended)
        resp = Response(status=200)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _load_jwks(force: bool) -> dict[str, Any]:
    try:
        return _oidc().fetch_jwk_set(force=force)  # type: ignore[no-any-return]
    except (RequestException, RuntimeError) as exc:
        raise LogoutTokenError("platform keys unavailable") from exc


def _error_page(zh: str, en: str, status: int) -> Response:
    body = render_template("error.html", system=_config().system, zh=zh, en=en)
    return Response(body, status=status, mimetype="text/html")
