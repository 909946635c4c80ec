"""Staff bearer tokens for the admin JSON API (issue 5: counter systems call the console).

A counter system signs a staff member in once with ``POST /api/v1/admin/session``
(username, password and a TOTP code) and gets an opaque token, kept in the Store as a
digest, valid ``staff_api_token_lifetime`` seconds at most and ``staff_session_idle_timeout``
without use. Every operation then sends ``Authorization: Bearer <token>``; the roles
behind it are checked against `admin_ui.permissions.ACTIONS` on every call, and a refusal
is answered 403 and audited — the same rules as the console pages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, request

from admin_ui.auth import address, console
from admin_ui.permissions import ACTIONS, PermissionDenied, require
from admin_ui.sessions import StaffSession
from idp.api.problems import ApiProblem


def bearer_token() -> str:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def staff_caller() -> StaffSession:
    """The staff session of the bearer token, or a 401 problem."""
    token = bearer_token()
    if not token:
        raise ApiProblem(401, "unauthenticated", "需要登录凭证",
                         "A staff bearer token is required (POST /api/v1/admin/session).")
    s = console().current(token, kind="api")
    if s is None:
        raise ApiProblem(401, "invalid_token", "登录凭证无效或已过期",
                         "The staff token is invalid or expired.")
    return s


def staff_api(action: str) -> Callable:  # type: ignore[type-arg]
    """Allow the operation only to a staff token whose roles allow ``action``."""
    if action not in ACTIONS:
        raise LookupError(f"unknown console action {action!r}")

    def decorate(view: Callable) -> Callable:  # type: ignore[type-arg]
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            s = staff_caller()
            try:
                require(s.roles, action)
            except PermissionDenied as exc:
                console().deny(s, action, exc.reason, address())
                raise ApiProblem(403, "forbidden", "无权执行此操作",
                                 f"The staff member's roles do not allow {action}.",
                                 action=action) from exc
            g.staff = s
            return view(*args, **kwargs)

        return wrapper

    return decorate
