"""The connector's endpoints on plain werkzeug requests: login, callback, logout, back-channel.

Shared by the Flask extension and the WSGI middleware. ``bag`` is the browser's small signed
cookie state (Flask's ``session`` or the middleware's own cookie): the pending sign-in, the
local session id and a CSRF token — never a token from the platform.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
from collections.abc import MutableMapping
from html import escape
from typing import Any

from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from idp_connector.client import LoginError, OidcClient, PlatformUnavailable
from idp_connector.identity import User
from idp_connector.sessions import SessionStore
from idp_connector.tokens import LogoutTokenError, verify_logout_token

log = logging.getLogger("idp_connector")
PENDING, LSID, CSRF = "idp_pending", "idp_lsid", "idp_csrf"
REFRESH_MARGIN = 30  # seconds before expiry at which an access token is renewed

MESSAGES = {  # (status, 中文, English) by error family; details go to the log, not the page
    "unavailable": (503, "统一身份认证平台暂时无法访问，请稍后再试。",
                    "The identity platform cannot be reached; please try again later."),
    "access_denied": (403, "您取消了登录或未获授权。", "Sign-in was cancelled or not allowed."),
    "insufficient_level": (403, "此功能需要更高的实名认证等级。",
                           "This function needs a higher real-name level."),
    "no_authority": (403, "您当前代表的企业未授权您办理此事项，或授权已过期。",
                     "The enterprise you act for has not authorised you for this service item, "
                     "or the authorisation has expired."),
    "other": (400, "登录未完成，请重新登录。", "Sign-in was not completed; please try again."),
}


def safe_return_to(value: str | None) -> str:
    """A local path to return to after sign-in; anything else becomes ``/`` (open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def error_page(family: str) -> Response:
    status, zh, en = MESSAGES[family]
    body = (f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>{escape(zh)}</title>'
            f'<p>{escape(zh)}</p><p lang="en">{escape(en)}</p><p><a href="/">返回首页 Home</a></p>')
    return Response(body, status=status, mimetype="text/html")


class Endpoints:
    """What the connector serves under its prefix, and who is signed in."""

    def __init__(self, client: OidcClient, store: SessionStore) -> None:
        self.client = client
        self.store = store

    # ---- state of this browser ----------------------------------------------------------
    def user(self, bag: MutableMapping[str, Any]) -> User | None:
        data = self.store.get(bag.get(LSID))
        return User(data["claims"]) if data else None

    def csrf_token(self, bag: MutableMapping[str, Any]) -> str:
        if not bag.get(CSRF):
            bag[CSRF] = secrets.token_urlsafe(24)
        return str(bag[CSRF])

    def access_token(self, bag: MutableMapping[str, Any]) -> str | None:
        """A current access token for calling APIs, refreshed when about to expire."""
        local_id = bag.get(LSID)
        data = self.store.get(local_id)
        if data is None:
            return None
        expires_at = data.get("expires_at")
        if expires_at is not None and float(expires_at) - REFRESH_MARGIN < time.time():
            try:
                data = self.client.refresh(data)
            except PlatformUnavailable:
                raise
            except LoginError as exc:
                # Refresh refused (revoked, banned, reused): the session is over (RFC 6749 §5.2).
                log.info("refresh refused (%s); ending the local session", exc.error)
                self.store.delete(str(local_id))
                bag.pop(LSID, None)
                return None
            self.store.update(str(local_id), data)
        return str(data["access_token"])

    # ---- endpoints ------------------------------------------------------------------------
    def login(self, request: Request, bag: MutableMapping[str, Any]) -> Response:
        """Start sign-in, or step up with ``?level=N`` (OIDC Core §3.1.2.1 acr_values)."""
        return_to = safe_return_to(request.args.get("next"))
        level_arg = request.args.get("level", "")
        level = int(level_arg) if level_arg in ("1", "2", "3") else None
        user = self.user(bag)
        if user is not None and (level is None or (user.level or 0) >= level):
            return redirect(return_to)
        try:
            url, pending = self.client.begin(return_to, level=level)
        except PlatformUnavailable as exc:
            log.warning("platform unavailable at sign-in: %s", exc.description)
            return error_page("unavailable")
        bag[PENDING] = pending
        return redirect(url)

    def callback(self, request: Request, bag: MutableMapping[str, Any]) -> Response:
        """Finish sign-in: checks, code redemption, ID token, a new local session."""
        pending = bag.pop(PENDING, None)
        try:
            data = self.client.finish(pending, request.args)
        except PlatformUnavailable as exc:
            log.warning("platform unavailable at callback: %s", exc.description)
            return error_page("unavailable")
        except LoginError as exc:
            log.info("sign-in refused: %s", exc.error)
            family = exc.error if exc.error in MESSAGES else "other"
            return error_page(family)
        old = bag.pop(LSID, None)
        if old:
            self.store.delete(str(old))  # a new sign-in never reuses a session (fixation)
        claims = data["claims"]
        bag[LSID] = self.store.create(sid=claims.get("sid"), sub=claims["sub"], data=data)
        bag[CSRF] = secrets.token_urlsafe(24)
        return redirect(safe_return_to((pending or {}).get("return_to")))

    def logout(self, request: Request, bag: MutableMapping[str, Any]) -> Response:
        """End the local session, then RP-initiated logout at the platform (POST + CSRF)."""
        sent = request.form.get("csrf_token", "")
        if request.method != "POST" or not hmac.compare_digest(
                sent.encode(), self.csrf_token(bag).encode()):
            return Response("logout needs POST with csrf_token", status=400)
        local_id = bag.pop(LSID, None)
        data = self.store.get(local_id)
        if local_id:
            self.store.delete(str(local_id))
        bag.pop(CSRF, None)
        if data is None:
            return redirect("/")
        try:
            return redirect(self.client.logout_url(data.get("id_token")))
        except PlatformUnavailable:
            return redirect("/")

    def backchannel_logout(self, request: Request) -> Response:
        """Receive a logout token and end the sessions it names (Back-Channel Logout §2.5-2.8)."""
        cfg = self.client.config
        try:
            if request.method != "POST":
                raise LogoutTokenError("POST required")
            logout = verify_logout_token(
                request.form.get("logout_token", ""), load_jwks=self._jwks,
                issuer=cfg.issuer, client_id=cfg.client_id)
            if not self.store.first_use_of_jti(logout.jti, logout.expires):
                raise LogoutTokenError("logout token replayed")
        except LogoutTokenError as exc:
            log.info("back-channel logout refused: %s", exc)
            body = json.dumps({"error": "invalid_request", "error_description": str(exc)})
            resp: Response = Response(body, status=400, mimetype="application/json")
        else:
            ended = self.store.end_for(sid=logout.sid, sub=logout.sub)
            log.info("back-channel logout ended %d session(s)", ended)
            resp = Response(status=200)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _jwks(self, force: bool) -> dict[str, Any]:
        try:
            return self.client.jwks(force)
        except PlatformUnavailable as exc:
            raise LogoutTokenError("platform keys unavailable") from exc
