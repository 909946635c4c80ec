"""Flask extension: ``IdpConnector(app)`` or ``connector.init_app(app)`` (docs/integration §4).

Routes under ``IDP_CONNECTOR_PREFIX`` (default ``/oidc``): ``login``, ``callback``,
``logout`` (POST), ``backchannel-logout`` (POST, from the platform). In views and templates:
`current_user`, `login_required`, `require_level`, `has_authority`, `require_authority`,
``idp_csrf_token()``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, current_app, g, redirect, request, session, url_for
from werkzeug.local import LocalProxy

from idp_connector.client import OidcClient
from idp_connector.config import ConnectorConfig
from idp_connector.handlers import Endpoints, error_page
from idp_connector.identity import User
from idp_connector.sessions import MemorySessionStore, SessionStore, SqliteSessionStore

F = TypeVar("F", bound=Callable[..., Any])
EXTENSION = "idp_connector"


class IdpConnector:
    """Signs people in with the unified identity platform."""

    def __init__(self, app: Flask | None = None, *, config: ConnectorConfig | None = None,
                 store: SessionStore | None = None) -> None:
        self._config = config
        self._store = store
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if not app.secret_key:
            raise RuntimeError("IdpConnector needs app.secret_key (SECRET_KEY) for its cookie")
        config = self._config or ConnectorConfig.from_mapping(app.config)
        store = self._store or _default_store(app, config)
        endpoints = Endpoints(OidcClient(config), store)
        app.extensions[EXTENSION] = endpoints
        bp = Blueprint(EXTENSION, __name__, url_prefix=config.prefix)
        bp.add_url_rule("/login", "login", lambda: endpoints.login(request, session))
        bp.add_url_rule("/callback", "callback", lambda: endpoints.callback(request, session))
        bp.add_url_rule("/logout", "logout", lambda: endpoints.logout(request, session),
                        methods=["POST"])
        bp.add_url_rule("/backchannel-logout", "backchannel_logout",
                        lambda: endpoints.backchannel_logout(request), methods=["POST"])
        app.register_blueprint(bp)
        app.context_processor(lambda: {"current_user": _user(),
                                       "idp_csrf_token": lambda: endpoints.csrf_token(session)})

    @staticmethod
    def access_token() -> str | None:
        """A current access token of the signed-in person (refreshed when needed)."""
        return _endpoints().access_token(session)


def _default_store(app: Flask, config: ConnectorConfig) -> SessionStore:
    path = app.config.get("IDP_CONNECTOR_SESSION_DB")
    if path:
        return SqliteSessionStore(Path(path), lifetime=config.session_lifetime)
    return MemorySessionStore(lifetime=config.session_lifetime)


def _endpoints() -> Endpoints:
    return cast(Endpoints, current_app.extensions[EXTENSION])


def _user() -> User | None:
    if "idp_user" not in g:
        g.idp_user = _endpoints().user(session)
    return cast(User | None, g.idp_user)


current_user: User | None = cast(User | None, LocalProxy(_user))
"""The signed-in person of this request, or None; falsy when nobody is signed in."""


def _to_login(level: int | None) -> Any:
    args: dict[str, Any] = {"next": request.full_path.rstrip("?")}
    if level is not None:
        args["level"] = level
    return redirect(url_for(f"{EXTENSION}.login", **args))


def login_required(view: F) -> F:
    """Send anyone not signed in to the platform, then back here."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _user() is None:
            return _to_login(None)
        return view(*args, **kwargs)
    return cast(F, wrapper)


def require_level(level: int) -> Callable[[F], F]:
    """Require real-name level ``level`` (1-3); a lower session steps up via ``acr_values``."""
    if level not in (1, 2, 3):
        raise ValueError("real-name levels are 1, 2 and 3")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = _user()
            if user is None or (user.level or 0) < level:
                return _to_login(level)
            return view(*args, **kwargs)
        return cast(F, wrapper)
    return decorator


def has_authority(item: str) -> bool:
    """Whether the signed-in person acts for an enterprise with authority over ``item`` (R-54)."""
    user = _user()
    return user is not None and user.has_authority(item)


def require_authority(item: str) -> Callable[[F], F]:
    """Require authority over service item ``item`` for the enterprise the person acts for.

    Not signed in: sign in first. Signed in without that authority (acting for nobody, an
    item not granted, or an authority past ``valid_until``): a 403 page; the person must
    choose the enterprise at the platform or ask its representative for the item.
    """
    if not isinstance(item, str) or not item or item == "*":
        raise ValueError("require_authority needs one service item")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = _user()
            if user is None:
                return _to_login(None)
            if not user.has_authority(item):
                return error_page("no_authority")
            return view(*args, **kwargs)
        return cast(F, wrapper)
    return decorator
