"""A demo department system as an OIDC relying party (authlib's Flask client).

`create_rp(config)` builds one Flask app; ``python -m demo.rp SYSTEM`` serves it.
"""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import Flask

from demo.rp.config import SCOPE, RpConfig
from demo.rp.sessions import RpSessions


def create_rp(config: RpConfig) -> Flask:
    """Wire one relying party: OIDC client, server-side sessions, pages."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        # Both systems share the host 127.0.0.1, and cookies ignore ports: distinct names.
        SESSION_COOKIE_NAME=f"{config.system.key}_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    oauth = OAuth(app)
    oauth.register(
        "idp",
        client_id=config.client_id,
        client_secret=config.client_secret,
        server_metadata_url=f"{config.issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": SCOPE,
            "code_challenge_method": "S256",  # PKCE (RFC 7636) on every request
            "token_endpoint_auth_method": "client_secret_basic",
            "timeout": 10,
        },
    )
    app.extensions["rp"] = config
    app.extensions["rp_sessions"] = RpSessions(config.data_dir / f"{config.system.key}.sqlite3")

    from demo.rp.views import bp

    app.register_blueprint(bp)
    return app
