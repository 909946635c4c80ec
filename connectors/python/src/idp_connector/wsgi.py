"""Plain WSGI middleware for systems without Flask (Django, Pyramid, bottle, …).

``IdpMiddleware(app, config, secret_key=…)`` serves the connector's routes under the prefix,
puts the signed-in `User` (or None) in ``environ["idp.user"]`` and a token getter in
``environ["idp.access_token"]``, and sends anyone not signed in to the platform unless the
path is public. Its cookie is signed (itsdangerous), HttpOnly and SameSite=Lax.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from idp_connector.client import OidcClient
from idp_connector.config import ConnectorConfig
from idp_connector.handlers import Endpoints
from idp_connector.sessions import MemorySessionStore, SessionStore

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class IdpMiddleware:
    """Wrap a WSGI application so that it sees only signed-in people."""

    def __init__(self, app: WsgiApp, config: ConnectorConfig, *, secret_key: str,
                 store: SessionStore | None = None, public_paths: tuple[str, ...] = (),
                 cookie_name: str = "idp_connector", secure_cookie: bool = True) -> None:
        if len(secret_key) < 16:
            raise ValueError("secret_key must be at least 16 characters")
        self.app = app
        self.config = config
        self.endpoints = Endpoints(OidcClient(config),
                                   store or MemorySessionStore(config.session_lifetime))
        self.public_paths = public_paths
        self.cookie_name = cookie_name
        self.secure_cookie = secure_cookie
        self._signer = URLSafeTimedSerializer(secret_key, salt="idp-connector")

    def _load(self, request: Request) -> dict[str, Any]:
        raw = request.cookies.get(self.cookie_name)
        if not raw:
            return {}
        try:
            bag = self._signer.loads(raw, max_age=self.config.session_lifetime)
        except BadSignature:
            return {}  # tampered or expired: as if no cookie
        return bag if isinstance(bag, dict) else {}

    def _save(self, response: Response, bag: dict[str, Any], before: dict[str, Any]) -> None:
        if bag == before:
            return
        response.set_cookie(self.cookie_name, self._signer.dumps(bag), httponly=True,
                            samesite="Lax", secure=self.secure_cookie, path="/",
                            max_age=self.config.session_lifetime)

    def _route(self, request: Request, bag: dict[str, Any]) -> Response | None:
        action = request.path[len(self.config.prefix):]
        if not request.path.startswith(self.config.prefix + "/"):
            return None
        handlers: dict[str, Callable[[], Response]] = {
            "/login": lambda: self.endpoints.login(request, bag),
            "/callback": lambda: self.endpoints.callback(request, bag),
            "/logout": lambda: self.endpoints.logout(request, bag),
            "/backchannel-logout": lambda: self.endpoints.backchannel_logout(request),
        }
        handler = handlers.get(action)
        return handler() if handler else Response("not found", status=404)

    def _is_public(self, path: str) -> bool:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.public_paths)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        request = Request(environ)
        bag = self._load(request)
        before = dict(bag)
        response = self._route(request, bag)
        if response is None:
            user = self.endpoints.user(bag)
            if user is None and not self._is_public(request.path):
                target = request.full_path.rstrip("?")
                response = redirect(f"{self.config.prefix}/login?"
                                    + _query({"next": target}))
            else:
                environ["idp.user"] = user
                environ["idp.access_token"] = lambda: self.endpoints.access_token(bag)
                environ["idp.csrf_token"] = self.endpoints.csrf_token(bag)
                if bag != before:  # a CSRF token was just made: the cookie must carry it
                    return _with_cookie(self, environ, start_response, bag, before)
                return self.app(environ, start_response)
        self._save(response, bag, before)
        return response(environ, start_response)


def _query(params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


def _with_cookie(mw: IdpMiddleware, environ: dict[str, Any], start_response: Callable[..., Any],
                 bag: dict[str, Any], before: dict[str, Any]) -> Iterable[bytes]:
    """Run the wrapped app and add the connector's updated cookie to its response."""
    cookie = Response()
    mw._save(cookie, bag, before)
    extra = [("Set-Cookie", v) for v in cookie.headers.getlist("Set-Cookie")]

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, list(headers) + extra, exc_info)

    return mw.app(environ, start)
