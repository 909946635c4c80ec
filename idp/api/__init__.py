"""The platform's JSON API for apps, kiosks, counter systems and peer nodes (R-02).

Every blueprint here lives under ``/api/v1``, answers errors as RFC 9457 problem details,
authenticates with bearer tokens instead of cookies (so it is exempt from CSRF), and
describes each operation with `idp.api.openapi.operation`, from which ``/api/openapi.json``
is generated.

Domains add their API modules to `API_MODULES`: each module exposes a Flask ``bp``.
"""

from __future__ import annotations

import importlib

from flask import Flask, jsonify

from idp.api.openapi import document
from idp.api.problems import ApiProblem, problem_response
from idp.platform import Platform

API_MODULES: list[str] = [
    "idp.realname.api",
    "idp.accounts.api",
    "idp.accounts.selfservice_api",
    "idp.orgs.api",
    "admin_ui.api",
    "idp.delegation.api",
    "idp.delegation.review_api",
    "admin_ui.bans_api",
    "admin_ui.counter_api",
    "admin_ui.clients_api",
    "admin_ui.dashboard",
    "admin_ui.staff_admin",
    "admin_ui.counter_org_views",
    "admin_ui.counter_phone_views",
    "admin_ui.scans",
]


def init_app(app: Flask, platform: Platform) -> None:
    """Register every API blueprint, its error handler and the OpenAPI document."""
    from idp import csrf

    # On the app, not on each blueprint: a blueprint is a module global shared by every app
    # built in the process (tests), and Flask refuses setup calls after its first registration.
    app.register_error_handler(ApiProblem, problem_response)
    for name in API_MODULES:
        bp = importlib.import_module(name).bp
        csrf.exempt(bp.name)
        app.register_blueprint(bp)

    @app.get("/api/openapi.json")
    def openapi():  # type: ignore[no-untyped-def]
        return jsonify(document(platform.settings.issuer))
