"""The console's request guard: who is signed in, and may they do this (issue 5 item 1).

`staff_required(action)` wraps every console page: no complete session → the sign-in page
(or the second-factor page while one is pending); roles that do not allow ``action`` → a
403 page and an ``admin:denied`` audit record. The check runs on the server for every
request, whatever the menu showed (`admin_ui.permissions`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, g, redirect, render_template, request, url_for

from admin_ui.permissions import ACTIONS, PermissionDenied, require
from admin_ui.service import ConsoleAuth
from admin_ui.sessions import COOKIE_NAME, StaffSession
from idp.platform import current_platform

COOKIE_PATH = "/admin"


def console() -> ConsoleAuth:
    return current_platform().services["admin"]  # type: ignore[return-value]


def address() -> str:
    return (request.remote_addr or "-")[:64]


def current_staff() -> StaffSession | None:
    """The browser's staff session (complete or pending), once per request."""
    if "staff" not in g:
        g.staff = console().current(request.cookies.get(COOKIE_NAME), kind="console")
    return g.staff  # type: ignore[no-any-return]


def set_staff_cookie(resp: Response, token: str) -> None:
    """A browser-session cookie, only sent to ``/admin``; the Store enforces the limits."""
    resp.set_cookie(COOKIE_NAME, token, secure=current_platform().settings.secure_cookies,
                    httponly=True, samesite="Strict", path=COOKIE_PATH)


def clear_staff_cookie(resp: Response) -> None:
    g.staff = None
    resp.delete_cookie(COOKIE_NAME, path=COOKIE_PATH)


def refuse(s: StaffSession, action: str, reason: str = "role") -> tuple[str, int]:
    """Audit a refusal and answer the 403 page."""
    console().deny(s, action, reason, address())
    known = ACTIONS.get(action)
    return render_template("admin/denied.html", action_label=known.label if known else action,
                           reason=reason), 403


def staff_required(action: str) -> Callable:  # type: ignore[type-arg]
    """Allow the view only to a complete staff session whose roles allow ``action``."""
    if action not in ACTIONS:
        raise LookupError(f"unknown console action {action!r}")  # a typo fails at import

    def decorate(view: Callable) -> Callable:  # type: ignore[type-arg]
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            s = current_staff()
            if s is None:
                return redirect(url_for("admin.login", next=request.path))
            if not s.complete:
                return redirect(url_for("admin.totp"))
            try:
                require(s.roles, action)
            except PermissionDenied as exc:
                return refuse(s, action, exc.reason)
            return view(*args, **kwargs)

        return wrapper

    return decorate
