"""A demo department system on the Python connector (`idp_connector.flask`, issue 7 item 2).

`create_rp(config)` builds one Flask app; ``python -m demo.rp SYSTEM`` serves it. Sign-in,
callback, server-side sessions, sign-out, the back-channel logout receiver, refresh and
step-up all come from the connector, exactly as docs/integration tells a department to do.
"""

from __future__ import annotations

from flask import Flask
from idp_connector import SqliteSessionStore
from idp_connector.flask import IdpConnector

from demo.rp.config import RpConfig


def create_rp(config: RpConfig) -> Flask:
    """Wire one relying party: the connector, its session store, the pages."""
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
    app.extensions["rp"] = config
    # SQLite, so a back-channel logout reaches sessions from every thread of the server.
    store = SqliteSessionStore(config.data_dir / f"{config.system.key}-sessions.sqlite3")
    IdpConnector(app, config=config.connector, store=store)

    from demo.rp.views import bp

    app.register_blueprint(bp)
    return app
