"""Unified identity authentication and single-sign-on platform (SPEC.md, DESIGN.md)."""

from __future__ import annotations

import logging

from flask import Flask

from idp.platform import Platform
from idp.routing import IdpFlask
from idp.settings import Settings
from idp.store import Store


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> Flask:
    """Build the WSGI app: the only place where wiring happens."""
    settings = settings or Settings.from_env()
    platform = Platform.build(settings, store=store)

    app = IdpFlask(__name__, static_folder="web/static", template_folder="web/templates")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        DEBUG=settings.debug,
        MAX_CONTENT_LENGTH=1024 * 1024,
        SESSION_COOKIE_NAME="idp_ui",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=settings.session_absolute_lifetime,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["idp"] = platform
    from idp import csrf, errors, fastpath, i18n, security_headers

    fastpath.install(app)  # cheaper session opening and hook dispatch, same responses
    i18n.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    security_headers.init_app(app)

    from admin_ui import init_app as init_admin
    from idp.api import init_app as init_api
    from idp.cas import init_app as init_cas
    from idp.federation.api import init_app as init_federation
    from idp.oidc import init_app as init_oidc
    from idp.web import init_app as init_web

    for init in (init_oidc, init_web, init_admin, init_api, init_cas, init_federation):
        init(app, platform)
    if settings.debug or settings.testing:
        from idp.web.dev import bp as dev_bp

        app.register_blueprint(dev_bp)

    if settings.express_lane:  # the machine hot paths without Flask (idp/oidc/express.py)
        from idp.oidc import express

        express.install(app)
    if settings.proxy_fix:  # outermost: every layer sees the client's address and scheme
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.proxy_fix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore

    logging.getLogger("idp").setLevel(logging.DEBUG if settings.debug else logging.INFO)
    return app
