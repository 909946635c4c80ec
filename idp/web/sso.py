"""The SSO session cookie: read the current session, set and clear the cookie (R-32).

Shared by the login pages and the OIDC endpoints; the session itself is in the Store.
"""

from __future__ import annotations

from flask import Response, g, request

from idp.accounts.sessions import COOKIE_NAME, SsoSession
from idp.platform import current_platform


def current_sso(*, include_pending: bool = False) -> SsoSession | None:
    """The browser's SSO session, or None; incomplete sessions only when asked for."""
    if "sso" not in g:
        g.sso = current_platform().sessions.load(request.cookies.get(COOKIE_NAME))
    s: SsoSession | None = g.sso
    if s is not None and not s.complete and not include_pending:
        return None
    return s


def set_sso_cookie(resp: Response, s: SsoSession) -> None:
    settings = current_platform().settings
    g.sso = s
    resp.set_cookie(COOKIE_NAME, s.sid, max_age=settings.session_absolute_lifetime,
                    secure=settings.secure_cookies, httponly=True, samesite="Lax", path="/")


def clear_sso_cookie(resp: Response) -> None:
    g.sso = None
    resp.delete_cookie(COOKIE_NAME, path="/")


def acr_for_level(level: int) -> str:
    """Real-name level as published ``acr`` (DESIGN.md, "Assurance")."""
    return f"urn:idp:acr:realname:{level}"


def level_of_acr(acr: str) -> int:
    prefix = "urn:idp:acr:realname:"
    if acr.startswith(prefix) and acr[len(prefix):].isdigit():
        return int(acr[len(prefix):])
    return 0
