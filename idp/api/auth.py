"""Bearer-token authentication for API operations (RFC 6750, RFC 9068 access tokens)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request

from idp.accounts.models import Person
from idp.api.problems import ApiProblem
from idp.oidc.userinfo import live_person
from idp.platform import current_platform


@dataclass(frozen=True)
class ApiCaller:
    """Who is calling: the client, and the person when the token was issued to one."""

    client_id: str
    person_id: int | None
    scope: frozenset[str]
    claims: dict[str, Any]


def require_bearer(*scopes: str, person: bool = True) -> Callable:  # type: ignore[type-arg]
    """Accept only a live access token with ``scopes``; the caller is in ``g.api_caller``.

    With ``person=True`` the token must belong to a person who is still active with the
    same security epoch (so a ban or password reset stops the app at once).
    """

    def decorate(view: Callable) -> Callable:  # type: ignore[type-arg]
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.api_caller = authenticate(scopes, need_person=person)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def authenticate(scopes: tuple[str, ...], *, need_person: bool) -> ApiCaller:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem(401, "unauthenticated", "需要登录凭证", "A bearer token is required.")
    verified = current_app.extensions["oidc"].verifier.verify(token.strip())
    if verified is None:
        raise ApiProblem(401, "invalid_token", "登录凭证无效或已过期",
                         "The access token is invalid or expired.")
    granted = frozenset(verified.scope)
    missing = [s for s in scopes if s not in granted]
    if missing:
        raise ApiProblem(403, "insufficient_scope", "权限不足", "The token lacks a scope.",
                         missing=missing)
    person_id = None
    if need_person:
        with current_platform().db.session() as session:
            found: Person | None = live_person(session, verified)
        if found is None:
            raise ApiProblem(401, "invalid_token", "登录凭证无效或已过期",
                             "The access token is invalid or expired.")
        person_id = found.id
    return ApiCaller(str(verified.claims.get("client_id", "")), person_id, granted,
                     verified.claims)
