"""What every request pays in Flask, made cheaper without changing any response (issue 2).

Measured on the API endpoints (bench/README.md, round 5), which carry no cookie and are
exempt from CSRF:

- `CookieSessions`: Flask builds a new ``URLSafeTimedSerializer`` (key list, signer
  settings) to open the session cookie of *every* request, even one without a cookie, and
  reads seven cookie settings to save a session that was never touched. Here the serializer
  is built once per key list, a request without the cookie gets its empty session without
  one, and an empty, untouched session is saved by doing nothing — which is what Flask's
  `save_session` ends up doing for it too (no ``Vary: Cookie``, no ``Set-Cookie``).
- `install` also memoises `Flask.ensure_sync`'s verdict per function: Flask asks
  `inspect.iscoroutinefunction` for every hook and view on every request, and the answer
  for a given function object never changes.

Everything else (hooks, error handlers, headers) runs exactly as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

_MAX_SYNC_FUNCTIONS = 4096  # views and hooks number in the hundreds; per-request closures stop here


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions (same cookie, same format), cheaper to open and save."""

    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """Flask's serializer, built once per (fallback keys, key): it holds no state."""
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        found = self._serializers.get(keys)
        if found is None:
            found = super().get_signing_serializer(app)
            if len(self._serializers) > 8:  # keys only change by configuration
                self._serializers.clear()
            self._serializers[keys] = found  # type: ignore[assignment]
        return found

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        if not app.secret_key:
            return None  # as Flask: a null session
        # No Cookie header (API callers) means no session cookie: skip parsing one.
        if "HTTP_COOKIE" not in request.environ or not request.cookies.get(
                self.get_cookie_name(app)):
            return self.session_class()  # as Flask, without building a serializer
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if not session and not session.accessed and not session.modified:
            return  # Flask would read its settings and then return without a change
        super().save_session(app, session, response)


def _memoised_ensure_sync(app: Flask) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`Flask.ensure_sync` with its "already synchronous" verdict remembered per function."""
    original = app.ensure_sync
    known: set[Callable[..., Any]] = set()
    lock = threading.Lock()

    def ensure_sync(func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            if func in known:
                return func
        except TypeError:  # unhashable callable: ask Flask every time
            return original(func)
        wrapped = original(func)
        if wrapped is func and len(known) < _MAX_SYNC_FUNCTIONS:
            with lock:
                known.add(func)
        return wrapped

    return ensure_sync


def install(app: Flask) -> None:
    """Use the cheaper session interface and `ensure_sync` on ``app``."""
    app.session_interface = CookieSessions()
    app.ensure_sync = _memoised_ensure_sync(app)  # type: ignore[method-assign,assignment]
