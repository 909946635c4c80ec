"""The gateway's WSGI application: everything under ``/_gw/``.

nginx (nginx/idp-gateway-server.conf) sends each request for a protected location to
``/_gw/auth`` first (``auth_request``). That answers 200 with the signed identity headers
(signing.py) when the browser's cookie names a live gateway session, else 401, which nginx
turns into an internal redirect to ``/_gw/start``: the login with the platform begins
(OIDC code flow + PKCE, oidc.py) and ends at ``/_gw/callback`` with a new session. The
platform's back-channel logout (``/_gw/backchannel-logout``) ends sessions at once — a ban,
a password reset or "sign out everywhere" on the platform reaches the legacy system too.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from typing import Any

import requests
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from idp_gateway import pages
from idp_gateway.config import GatewayConfig
from idp_gateway.oidc import LoginError, LogoutTokenError, Platform, level_of, pkce_pair
from idp_gateway.signing import sign_identity
from idp_gateway.store import Store

log = logging.getLogger("idp_gateway")
TX_COOKIE = "idp_gw_tx"
MAX_NEXT = 2048

ROUTES = Map([
    Rule("/_gw/auth", endpoint="auth", methods=["GET", "HEAD"]),
    Rule("/_gw/start", endpoint="start", methods=["GET", "HEAD"]),
    Rule("/_gw/login", endpoint="login", methods=["GET"]),
    Rule("/_gw/callback", endpoint="callback", methods=["GET"]),
    Rule("/_gw/logout", endpoint="logout", methods=["GET", "POST"]),
    Rule("/_gw/signed-out", endpoint="signed_out", methods=["GET"]),
    Rule("/_gw/backchannel-logout", endpoint="backchannel", methods=["POST"]),
    Rule("/_gw/healthz", endpoint="healthz", methods=["GET"]),
], strict_slashes=False)


def safe_next(value: str | None) -> str:
    """A same-site path to return to after login, or ``/`` (no open redirect)."""
    if (not value or len(value) > MAX_NEXT or not value.startswith("/")
            or value.startswith(("//", "/\\")) or not value.isprintable()
            or value.startswith("/_gw/")):
        return "/"
    return value


class Gateway:
    """The WSGI callable; one per process, safe to share between threads."""

    def __init__(self, config: GatewayConfig, *, store: Store | None = None,
                 platform: Platform | None = None) -> None:
        self.config = config
        self.store = store or Store(config.database, session_ttl=config.session_ttl,
                                    idle_timeout=config.idle_timeout)
        self.platform = platform or Platform(config)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, _args = ROUTES.bind_to_environ(environ).match()
            response = getattr(self, "on_" + endpoint)(request)
        except MethodNotAllowed as exc:
            response = exc.get_response(environ)
        except NotFound:
            response = pages.message("页面不存在。", "Not found.", 404)
        except HTTPException as exc:
            response = exc.get_response(environ)
        return response(environ, start_response)  # type: ignore[no-any-return]

    # ------------------------------------------------------------ nginx auth_request

    def on_auth(self, request: Request) -> Response:
        """200 + signed identity headers for a live session; 401 otherwise (nginx
        ``auth_request`` accepts only 2xx, 401 and 403)."""
        found = self.store.session(request.cookies.get(self.config.cookie_name))
        if found is None or level_of(found.acr) < self.config.min_level:
            return _no_store(Response(status=401))
        resp = Response(status=200)
        resp.headers.update(sign_identity(self.config.signing_key, sub=found.sub,
                                          name=found.name, acr=found.acr, amr=found.amr))
        return _no_store(resp)

    def on_start(self, request: Request) -> Response:
        """Where nginx sends a request that ``/_gw/auth`` refused (``error_page 401``).

        nginx turns the internal redirect into a GET, so a refused form post also ends
        here; after the login the browser returns to the page it asked for.
        """
        return self._begin(safe_next(request.headers.get("X-Original-URI")))

    def on_login(self, request: Request) -> Response:
        return self._begin(safe_next(request.args.get("next")))

    def _begin(self, next_url: str) -> Response:
        verifier, challenge = pkce_pair()
        nonce = secrets.token_urlsafe(24)
        try:
            state = self.store.begin_login(nonce=nonce, verifier=verifier, next_url=next_url)
            target = self.platform.authorize_url(state=state, nonce=nonce, challenge=challenge)
        except (requests.RequestException, LoginError, ValueError, KeyError):
            log.warning("identity platform unreachable at sign-in")
            return pages.message("统一身份认证平台暂时无法访问，请稍后再试。",
                                 "The identity platform cannot be reached; try again later.",
                                 503)
        resp = _no_store(redirect(target, 302))
        # Binds the login to this browser: a callback with someone else's state is refused.
        resp.set_cookie(TX_COOKIE, state, max_age=600, path="/_gw/callback", httponly=True,
                        secure=self.config.secure_cookies, samesite="Lax")
        return resp

    # ------------------------------------------------------------ callback

    def on_callback(self, request: Request) -> Response:
        """OIDC Core §3.1.2.5: check state, redeem the code, enforce the level, start."""
        state = request.args.get("state", "")
        cookie = request.cookies.get(TX_COOKIE, "")
        tx = (self.store.take_login(state)
              if state and hmac.compare_digest(state.encode(), cookie.encode()) else None)
        if tx is None:
            return pages.message("登录已过期或无效，请重新登录。",
                                 "The sign-in expired or is not valid; please sign in again.",
                                 400)
        if "code" not in request.args:
            log.info("sign-in refused by the platform: %s", request.args.get("error", "")[:64])
            return pages.message("登录未完成。", "Sign-in was not completed.", 400)
        try:
            who = self.platform.finish_login(request.args["code"], tx.verifier, tx.nonce)
        except LoginError as exc:
            log.warning("sign-in failed: %s", exc.reason)
            return pages.message("登录失败，请重试。", "Sign-in failed; please try again.", 502)
        if level_of(who.acr) < self.config.min_level:
            return pages.message(
                f"本系统要求实名认证等级不低于 {self.config.min_level} 级。",
                f"This system requires real-name level {self.config.min_level} or higher.", 403)
        token = self.store.create_session(sub=who.sub, sid=who.sid, name=who.name, acr=who.acr,
                                          amr=who.amr, id_token=who.id_token)
        resp = _no_store(redirect(tx.next, 302))
        resp.set_cookie(self.config.cookie_name, token, path="/", httponly=True,
                        secure=self.config.secure_cookies, samesite="Lax",
                        max_age=self.config.session_ttl)
        resp.delete_cookie(TX_COOKIE, path="/_gw/callback")
        return resp

    # ------------------------------------------------------------ logout

    def _csrf(self, key: str) -> str:
        return hmac.new(self.config.signing_key, b"logout\n" + key.encode(),
                        hashlib.sha256).hexdigest()

    def on_logout(self, request: Request) -> Response:
        """GET asks to confirm; POST (with the CSRF token) ends the gateway session and
        sends the browser to the platform's end_session (RP-Initiated Logout §2)."""
        found = self.store.session(request.cookies.get(self.config.cookie_name))
        if found is None:
            return _no_store(redirect("/_gw/signed-out", 303))
        if request.method == "GET":
            return pages.confirm_logout(self._csrf(found.key))
        if not hmac.compare_digest(request.form.get("csrf_token", ""), self._csrf(found.key)):
            return pages.message("请求已失效，请重试。", "The request expired; try again.", 400)
        self.store.end_session(found.key)
        try:
            target = self.platform.end_session_url(found.id_token, secrets.token_urlsafe(16))
        except (requests.RequestException, LoginError, ValueError, KeyError):
            target = None
        resp = _no_store(redirect(target or "/_gw/signed-out", 303))
        resp.delete_cookie(self.config.cookie_name, path="/")
        return resp

    def on_signed_out(self, request: Request) -> Response:
        return pages.signed_out()

    def on_backchannel(self, request: Request) -> Response:
        """OIDC Back-Channel Logout §2.5–§2.8: validate, refuse replays, end sessions."""
        try:
            sid, sub, jti, expires = self.platform.check_logout_token(
                request.form.get("logout_token", ""))
            if not self.store.first_use_of_jti(jti, expires):
                raise LogoutTokenError("logout token replayed")
        except LogoutTokenError as exc:
            log.info("back-channel logout refused: %s", exc)
            resp = Response('{"error":"invalid_request"}', status=400,
                            mimetype="application/json")
            return _no_store(resp)
        ended = self.store.end_for(sid=sid, sub=sub)
        log.info("back-channel logout ended %d gateway session(s)", ended)
        return _no_store(Response(status=200))

    def on_healthz(self, request: Request) -> Response:
        return _no_store(Response("ok", mimetype="text/plain"))


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp
