"""CSRF protection for every state-changing form (R-70).

A random token lives in the signed Flask session cookie; every POST to a page must carry
it in the form field ``csrf_token`` or the ``X-CSRF-Token`` header. Protocol endpoints
(token, introspection, revocation, back-channel) authenticate their caller instead and are
exempted by registering their blueprints with `exempt`.
"""

from __future__ import annotations

import hmac

from flask import Flask, abort, request, session

from idp.crypto import random_token

_exempt_blueprints: set[str] = set()
_exempt_views: set[str] = set()


def exempt(name: str) -> None:
    """Exempt a blueprint or an endpoint (``bp.view``) by name."""
    if "." in name:
        _exempt_views.add(name)
    else:
        _exempt_blueprints.add(name)


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = random_token(24)
    return str(token)


def _protect() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.routing_exception is not None:
        return  # no view will run: let the 404/405/400 (e.g. an invalid Host) answer
    if request.blueprint in _exempt_blueprints or request.endpoint in _exempt_views:
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(str(sent).encode(), str(expected).encode()):
        abort(400, description="csrf")


def init_app(app: Flask) -> None:
    app.before_request(_protect)
    app.jinja_env.globals["csrf_token"] = csrf_token
