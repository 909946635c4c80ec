"""Citizen-facing pages: login, account centre (zh-CN first, English available)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, Response, request

from idp.platform import Platform

LANG_COOKIE_MAX_AGE = 365 * 86400


def lang_url(lang: str) -> str:
    """The current page in another language, keeping its query (``tx`` above all)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in ("lang", "ui_locales")]
    args.append(("lang", lang))
    return f"{request.path}?{urlencode(args)}"


def _remember_language(resp: Response) -> Response:
    """An explicit ``?lang=`` choice sticks for the following pages (idp.i18n reads it)."""
    from idp.i18n import _match

    chosen = _match(request.args.get("lang", "")[:16])
    if chosen and request.cookies.get("lang") != chosen:
        resp.set_cookie("lang", chosen, max_age=LANG_COOKIE_MAX_AGE, samesite="Lax",
                        httponly=True, secure=request.is_secure)
    return resp


def init_app(app: Flask, platform: Platform) -> None:
    """Register the page blueprints."""
    from idp.web import messages
    from idp.web.account import bp as account_bp
    from idp.web.selfservice import bp as selfservice_bp
    from idp.web.views import bp as login_bp

    app.register_blueprint(login_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(selfservice_bp)
    from idp.web import login_face, login_qr, stepup

    for more in (login_qr.bp, login_face.bp, stepup.bp):  # issue 3 item 5
        app.register_blueprint(more)
    app.url_value_preprocessor(login_face.allow_photo_upload)
    from idp.web.register import bp as register_bp

    app.register_blueprint(register_bp)
    from idp.web.orgs import bp as orgs_bp  # legal persons (issue 4 items 2, 3)

    app.register_blueprint(orgs_bp)
    from idp.web.delegation import bp as delegation_bp

    app.register_blueprint(delegation_bp)  # issue 4 item 4
    from idp.integration.views import bp as selfcheck_bp

    app.register_blueprint(selfcheck_bp)  # issue 7 item 6: integration self-check
    from idp.web.login_x509 import bp as login_x509_bp

    app.register_blueprint(login_x509_bp)  # issue 4 item 2d: enterprise certificate sign-in
    from idp.web import federated  # brokered logins across nodes (issue 6 item 3)

    federated.init_app(app, platform)
    from idp.web.acting import bp as acting_bp

    app.register_blueprint(acting_bp)  # issue 4 item 5: act for whom at sign-in
    app.jinja_env.globals.update(lang_url=lang_url, id_type_label=messages.id_type_label,
                                 realname_label=messages.realname_label)
    app.after_request(_remember_language)

    @app.get("/")
    def index():  # type: ignore[no-untyped-def]
        from flask import redirect, url_for

        return redirect(url_for("account.home"))
