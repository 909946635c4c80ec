"""Enterprise certificate sign-in page 企业证书登录 (R-23, amr ``x509``).

Thin views over `idp.orgs.x509_login`. GET checks the certificate the TLS proxy forwarded
and shows whom it signs in (the enterprise and its masked representative) or a clear
refusal; POST (CSRF, so no other site can sign a browser in with its certificate) checks it
again and starts the session, acting for the enterprise. The login page links here only
when the feature is on; ``x509_login_origin`` names the TLS server that asks for the
certificate when it is not the main one (see docs/operations.md).

The session starts at most at real-name level 2 (``MAX_LEVEL``): the certificate proves the
organisation, and the representative's level 3 (a counter visit) says nothing about who
holds the enterprise's USB key. ``_certificate_scope`` keeps such a session inside its
enterprise (`idp.orgs.x509_scope`) for every page and API request.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from idp.api.problems import ApiProblem
from idp.crypto import mask_name
from idp.login_tx import LoginTransaction
from idp.orgs import x509_scope
from idp.orgs.x509_login import (
    SECRET_HEADER,
    VERIFY_HEADER,
    CertificateLogin,
    X509LoginError,
    proxy_networks,
)
from idp.platform import current_platform
from idp.web import flow
from idp.web.sso import current_sso

bp = Blueprint("login_x509", __name__)
AMR = ["x509"]
MAX_LEVEL = 2  # the certificate proves the organisation, not the person (module docstring)


def peer_address() -> str:
    """The TCP peer, before ProxyFix replaced it with the forwarded client address."""
    orig = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return orig.get("REMOTE_ADDR") or request.remote_addr or "-"


def forwarded_header(name: str | None = None) -> str | None:
    values = request.headers.getlist(name or current_platform().settings.x509_header)
    if len(values) > 1:
        return "repeated"  # two values: ambiguous, refused (never matches a secret either)
    return values[0] if values else None


def _personal_messages() -> dict[str, str]:
    return {x509_scope.PERSONAL: _("企业证书登录仅可办理该企业业务;管理个人账号请使用个人方式登录"),
            x509_scope.STEP_UP: _("授予、变更、批准或保留授权须由法定代表人本人确认:"
                                  "请使用个人方式登录后办理")}


@bp.before_app_request
def _certificate_scope() -> BaseResponse | tuple[str, int] | None:
    """Keep certificate sessions and their tokens inside their enterprise (x509_scope)."""
    path = request.path
    if path.startswith("/api/"):
        _api_scope(path)
        return None
    if path == "/login" and request.method == "GET" and request.args.get("personal"):
        return _personal_login_page(request.args["personal"])
    if not path.startswith(("/account", "/org")):
        return None
    s = current_sso()
    if s is None or not s.acting_for:
        return None
    rule = x509_scope.web_rule(path, s.acting_for)
    if rule == x509_scope.ALLOW:
        return None
    return redirect(url_for("login.password_login", personal=rule))


def _personal_login_page(rule: str) -> tuple[str, int] | None:
    """The login form with the reason, even though a (certificate) session exists: the
    login page would otherwise send a signed-in browser straight on."""
    s = current_sso()
    message = _personal_messages().get(rule)
    if s is None or not s.acting_for or message is None:
        return None
    return render_template("login.html", tx=None, tx_args=flow.tx_args(None), notice=message,
                           identifier=""), 200


def _api_scope(path: str) -> None:
    if not path.startswith(("/api/v1/me", "/api/v1/orgs")):
        return
    scheme, _sep, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return  # the view answers 401
    oidc = current_app.extensions.get("oidc")
    verified = oidc.verifier.verify(token.strip()) if oidc is not None else None
    if verified is None:
        return  # the view answers 401
    amr = verified.claims.get("amr")
    if not isinstance(amr, list) or "x509" not in amr:
        return
    org = verified.claims.get("org")
    code = org.get("credit_code") if isinstance(org, dict) else None
    rule = x509_scope.api_rule(path, request.method, code if isinstance(code, str) else None)
    if rule != x509_scope.ALLOW:
        zh = _personal_messages()[rule]
        en = ("An enterprise certificate sign-in acts only for its enterprise; sign in "
              "personally for this." if rule == x509_scope.PERSONAL else
              "Granting, changing, approving or keeping authority needs the legal "
              "representative in person: sign in personally.")
        raise ApiProblem(403, "personal_sign_in_required", zh, en)


@bp.app_context_processor
def _login_link() -> dict[str, Any]:
    def x509_login_href(tx_args: dict[str, Any]) -> str | None:
        """The certificate sign-in link for the login pages; None when the feature is off."""
        settings = current_platform().settings
        if not proxy_networks(settings.x509_proxies):
            return None
        path = url_for("login_x509.certificate_login", **tx_args)
        return settings.x509_login_origin.rstrip("/") + path

    return {"x509_login_href": x509_login_href}


def _page(tx: LoginTransaction | None, status: int = 200, **context: object) -> tuple[str, int]:
    return render_template("login_x509.html", tx=tx, tx_args=flow.tx_args(tx),
                           **context), status


def _error(exc: X509LoginError) -> str:
    lang = "en" if str(get_locale() or "").startswith("en") else "zh"
    text = exc.messages[lang]
    if exc.code == "throttled":
        text += _("(约 %(minutes)d 分钟后)", minutes=max(1, (exc.retry_in + 59) // 60))
    return text


@bp.route("/login/certificate", methods=["GET", "POST"])
def certificate_login():  # type: ignore[no-untyped-def]
    """使用企业证书登录: as the enterprise's legal representative, acting for it."""
    tx = flow.load_tx()
    p = current_platform()
    with p.db.session() as db:
        service = CertificateLogin(db, p.settings, p.limiter, peer=peer_address(),
                                   address=flow.client_address(), cache=p.services)
        try:
            found = service.check(forwarded_header(),
                                  proxy_secret=forwarded_header(SECRET_HEADER),
                                  client_verify=forwarded_header(VERIFY_HEADER))
        except X509LoginError as exc:
            return _page(tx, exc.status, error=_error(exc), code=exc.code)
        if request.method == "GET":
            name = mask_name(flow.accounts(db).name(found.person))
            return _page(tx, org=found.legal_person, representative=name)
        service.succeeded(found)
        return flow.begin_session(db, found.person, AMR, tx,
                                  level=min(found.person.realname_level, MAX_LEVEL),
                                  acting_for=found.legal_person.credit_code)
