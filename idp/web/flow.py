"""The login flow's glue: transactions, session start, next step, signed-in checks (R-30, R-32).

Views stay thin: they read the form, call a service in `idp.accounts`, and use these
helpers to move the browser along ``/login`` → second factor → forced password change →
``/authorize/resume`` (or the account centre when no relying party is waiting).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from flask import Response, g, make_response, redirect, request, url_for
from sqlalchemy.orm import Session

from idp.accounts.lockout import Guards
from idp.accounts.login import Login, pending_steps
from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.accounts.sessions import COOKIE_NAME, SsoSession
from idp.accounts.sms_codes import SmsCodes
from idp.accounts.totp import Totp
from idp.i18n import SUPPORTED
from idp.login_tx import LoginTransaction
from idp.oidc.logout import LogoutNotice, end_browser_session
from idp.platform import current_platform
from idp.web.sso import (
    acr_for_level,
    clear_sso_cookie,
    current_sso,
    level_of_acr,
    set_sso_cookie,
)

RESUME_PATH = "/authorize/resume"
log = logging.getLogger(__name__)


# -- services for one request ----------------------------------------------------------------

def client_address() -> str:
    return request.remote_addr or "-"


def accounts(db: Session) -> Accounts:
    p = current_platform()
    return Accounts(db, p.protector, p.hasher)


def login_service(db: Session) -> Login:
    p = current_platform()
    return Login(db, accounts(db), Guards.build(p.limiter, p.settings), p.settings.secret_key,
                 client_address())


def totp(db: Session) -> Totp:
    p = current_platform()
    return Totp(db, p.protector, p.settings.secret_key)


def sms_codes(purpose: str = "login") -> SmsCodes:
    p = current_platform()
    return SmsCodes(p.store, p.limiter, p.sms, p.settings, purpose)


def form_text(name: str, limit: int, *, strip: bool = True) -> str | None:
    """A form field ("" when absent); None when repeated or longer than ``limit``.

    Refused rather than truncated or picked from: an ambiguous form is a client error.
    """
    values = request.form.getlist(name)
    if len(values) > 1 or (values and len(values[0]) > limit):
        return None
    value = values[0] if values else ""
    return value.strip() if strip else value


# -- login transactions (the hand-off from /authorize) ---------------------------------------

def load_tx() -> LoginTransaction | None:
    """The waiting authorization request named by ``?tx=``; applies its ``ui_locales``."""
    tx_id = request.args.get("tx") or None
    g.tx_missing = False
    if tx_id is None:
        return None
    tx = current_platform().login_txs.load(tx_id)
    if tx is None:
        g.tx_missing = True  # expired or forged: carry on as a plain login, and say so
        return None
    if tx.ui_locales and not request.args.get("lang") and not request.cookies.get("lang"):
        from idp.i18n import _match

        for tag in tx.ui_locales.split():
            found = _match(tag)
            if found in SUPPORTED:
                g.locale = found
                break
    return tx


def tx_args(tx: LoginTransaction | None) -> dict[str, Any]:
    return {"tx": tx.id} if tx is not None else {}


def done_url(tx: LoginTransaction | None) -> str:
    """Back to the waiting client — through step-up when the session's level is too low."""
    return stepup_url(current_sso(), tx) or client_return_url(tx)


def stepup_url(s: SsoSession | None, tx: LoginTransaction | None) -> str | None:
    """The step-up page when an OIDC request wants a higher level than ``s`` has (issue 3 §5).

    Instead of sending the person on to ``access_denied`` (client minimum) or to a code at
    a lower level (``acr_values``), offer the missing factor (idp.web.stepup).
    """
    if tx is None or s is None or not s.complete or tx.extra.get("kind") != "login":
        return None
    if level_of_acr(s.acr) >= tx.min_level:
        return None
    return url_for("stepup.page", tx=tx.id)


def client_return_url(tx: LoginTransaction | None) -> str:
    if tx is not None:
        # Another protocol front-end (CAS) or the integration self-check may name its own
        # local resume path.
        resume = tx.extra.get("resume")
        path = resume if isinstance(resume, str) and resume.startswith(
            ("/cas/", "/integration/selfcheck/")) else RESUME_PATH
        return f"{path}?{urlencode({'tx': tx.id})}"
    return url_for("account.home")


def next_url(s: SsoSession, tx: LoginTransaction | None) -> str:
    """Where the browser goes after a step: the next pending step, or back to the client."""
    if "totp" in s.pending:
        return url_for("login.second_factor", **tx_args(tx))
    if "password_change" in s.pending:
        return url_for("login.password_change", **tx_args(tx))
    if "agreement" in s.pending:
        return url_for("register.resign", **tx_args(tx))
    if tx is not None and tx.need_mfa and "mfa" not in s.amr:
        # The client demands a second factor the person has not set up yet: enrol now.
        return url_for("account.totp", **tx_args(tx))
    return stepup_url(s, tx) or client_return_url(tx)


def onward(resp: Response, tx: LoginTransaction | None) -> Response:
    """A login step's answer — with the hop through ``/authorize/resume`` taken here.

    When a step leaves nothing pending, its redirect only sends the browser to the resume,
    which re-runs the authorization request and redirects again, to the client. The
    resume runs in this request instead (`idp.oidc.views.resume`: the same checks, the
    same session, after this step's transaction has committed), so the browser gets the
    client's redirect at once: one request and its reads fewer per login (issue 2,
    "Performance"). The step's cookies (the new SSO session) go with it, as a 303: the
    browser must not repeat the POST that carried the password (RFC 9700 §4.12).

    Anything but a redirect (the consent or acting chooser page, an error page) keeps the
    hop, so that page is not the answer to a POST a reload would send again; so does a
    resume that fails, so the new session's cookie is never lost with it.
    """
    if tx is None:
        return resp
    onward_url = client_return_url(tx)
    if resp.location != onward_url or not onward_url.startswith(RESUME_PATH):
        return resp
    from idp.oidc.views import resume  # the protocol blueprint builds on these pages

    try:
        answer = resume(tx)
    except Exception:  # the browser retries at /authorize/resume, still signed in
        log.exception("resume within the login failed; sending the browser there")
        return resp
    if answer.status_code not in (302, 303) or not answer.location:
        return resp
    answer.status_code = 303
    for cookie in resp.headers.getlist("Set-Cookie"):
        answer.headers.add("Set-Cookie", cookie)
    return answer


# -- sessions --------------------------------------------------------------------------------

def begin_session(db: Session, person: Person, amr: list[str],
                  tx: LoginTransaction | None, level: int | None = None,
                  acting_for: str | None = None) -> Response:
    """Start a fresh SSO session after a first factor; pending steps keep it unusable.

    ``level`` overrides the account's real-name level when the method proves more (face)
    or less (QR from an app signed in more weakly) than it (DESIGN.md "Assurance").
    ``acting_for``: the credit code the method itself proved (enterprise certificate).
    """
    pending = pending_steps(db, person, current_platform().settings.agreement_version)
    sessions = current_platform().sessions
    level = person.realname_level if level is None else level
    s = sessions.start(person_id=person.id, sub=person.sub, epoch=person.security_epoch,
                       amr=amr, acr=acr_for_level(level), pending=pending,
                       acting_for=acting_for or None)
    old = current_sso(include_pending=True)
    if old is not None and old.sid != s.sid:
        if old.person_id == person.id:
            # Same person signing in again (prompt=login): the clients holding tokens from
            # the old session follow to the new one, so back-channel logout still reaches them.
            for client_id in sessions.clients(old.sid):
                sessions.add_client(s.sid, client_id)
        sessions.end(old.sid)  # never reuse an id across logins (session fixation)
    resp = make_response(redirect(next_url(s, tx)))
    set_sso_cookie(resp, s)
    return resp


def end_other_sessions(db: Session, person_id: int, keep_sid: str) -> list[LogoutNotice]:
    """End every session of the person but the current one (after a password change).

    Returns the back-channel logout notices for the systems signed in through them; send
    them with `idp.oidc.logout.send_notices` after the transaction commits.
    """
    platform = current_platform()
    notices: list[LogoutNotice] = []
    for sid in platform.sessions.sessions_of(person_id):
        if sid != keep_sid:
            notices += end_browser_session(platform, db, sid, "password_changed",
                                           address=client_address())
    return notices


def signed_in_person(db: Session) -> tuple[SsoSession, Person] | None:
    """The complete session and its person, re-checked on every request.

    As warehouse's security policy does: the person must still exist, be active, and not
    have had every session revoked (security epoch bumped by a ban or password reset).
    """
    s = current_sso()
    if s is None:
        return None
    person = accounts(db).get(s.person_id)
    if person is None or not person.is_active or person.security_epoch != s.epoch:
        current_platform().sessions.end(s.sid)
        g.sso = None
        return None
    return s, person


def to_login(tx: LoginTransaction | None = None) -> Response:
    """Back to the login page, dropping a dead session cookie."""
    resp = make_response(redirect(url_for("login.password_login", **tx_args(tx))))
    if request.cookies.get(COOKIE_NAME) and current_sso(include_pending=True) is None:
        clear_sso_cookie(resp)
    return resp
