"""Enterprise certificate sign-in page 企业证书登录 (R-23, amr ``x509``).

Thin views over `idp.orgs.x509_login`. GET checks the certificate the TLS proxy forwarded
and shows whom it signs in (the enterprise and its masked representative) or a clear
refusal; POST (CSRF, so no other site can sign a browser in with its certificate) checks it
again and starts the session, acting for the enterprise. The login page links here only
when the feature is on; ``x509_login_origin`` names the TLS server that asks for the
certificate when it is not the main one (see docs/operations.md).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from idp.crypto import mask_name
from idp.login_tx import LoginTransaction
from idp.orgs.x509_login import CertificateLogin, X509LoginError, proxy_networks
from idp.platform import current_platform
from idp.web import flow

bp = Blueprint("login_x509", __name__)
AMR = ["x509"]


def peer_address() -> str:
    """The TCP peer, before ProxyFix replaced it with the forwarded client address."""
    orig = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return orig.get("REMOTE_ADDR") or request.remote_addr or "-"


def forwarded_header() -> str | None:
    values = request.headers.getlist(current_platform().settings.x509_header)
    if len(values) > 1:
        return "repeated"  # two certificates: ambiguous, refused as not a certificate
    return values[0] if values else None


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
            found = service.check(forwarded_header())
        except X509LoginError as exc:
            return _page(tx, exc.status, error=_error(exc), code=exc.code)
        if request.method == "GET":
            name = mask_name(flow.accounts(db).name(found.person))
            return _page(tx, org=found.legal_person, representative=name)
        service.succeeded(found)
        return flow.begin_session(db, found.person, AMR, tx,
                                  acting_for=found.legal_person.credit_code)
