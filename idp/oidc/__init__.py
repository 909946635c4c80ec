"""OpenID Provider (OIDC Core 1.0, RFC 6749, RFC 7636, RFC 7662, RFC 7009, RFC 9068, RFC 9207).

Public entry points for other parts of the platform:

- `idp.oidc.logout.end_person_sessions` / `end_browser_session` + `send_notices`;
- `idp.oidc.clients` (client management operations, shared by CLI and console);
- `idp.oidc.keys.rotate` / `prune` (signing keys).
"""

from __future__ import annotations

from flask import Flask

from idp.platform import Platform


def init_app(app: Flask, platform: Platform) -> None:
    """Wire the authorization server and register the protocol endpoints."""
    from idp import csrf
    from idp.oidc.introspection import IntrospectionEndpoint
    from idp.oidc.logout import EndSessionEndpoint
    from idp.oidc.revocation import RevocationEndpoint
    from idp.oidc.server import IdpAuthorizationServer
    from idp.oidc.views import bp

    server = IdpAuthorizationServer(platform)
    server.register_endpoint(IntrospectionEndpoint)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(EndSessionEndpoint)
    app.extensions["oidc"] = server
    platform.services["oidc"] = server
    # Machine-to-machine endpoints authenticate their caller; /authorize is a cross-site
    # form POST by design (OIDC Core §3.1.2.1); /end_session checks its own confirmation.
    # The consent form is a page form and keeps CSRF protection.
    for endpoint in ("token", "introspect", "revoke", "userinfo", "authorize_endpoint",
                     "end_session", "jwks", "openid_configuration"):
        csrf.exempt(f"oidc.{endpoint}")
    app.register_blueprint(bp)

    from authlib.oauth2.rfc6749 import InsecureTransportError

    @app.errorhandler(InsecureTransportError)
    def _insecure_transport(_exc: InsecureTransportError):  # type: ignore[no-untyped-def]
        # RFC 6749 §3.1, §3.2: TLS is required (plain http only to loopback, RFC 8252 §7.3).
        # authlib raises this before its own error handling, which would make it a 500.
        return server.handle_response(
            400, {"error": "invalid_request", "error_description": "HTTPS is required."},
            [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
             ("Pragma", "no-cache")])
