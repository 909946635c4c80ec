"""Bundled authority simulator: a separate small WSGI app with seeded synthetic records.

It answers the contracts in docs/authorities.md — population registry, carrier, bank, social
security, provident fund, traffic police, face service, the trusted platform (a minimal
OpenID Provider) and the SMS gateway — so ``idp demo`` and the tests run against real HTTP.
Run it with ``python -m simulator --port 5900``. Never deploy it: its records are invented
and its admin endpoints (``/_sim/…``, loopback only) flip authorities into failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify
from joserfc.jwk import ECKey
from werkzeug.exceptions import HTTPException

from simulator.records import Records, load_records
from simulator.signing import MAX_SKEW
from simulator.state import Expiring, Modes, NonceCache, SmsInbox

DEFAULT_KEY = "simulator-dev-key-change-me"
DEFAULT_CLIENT_ID = "idp"


@dataclass(frozen=True)
class SimConfig:
    """Keys, clients and failure timings of one simulator."""

    key: str = DEFAULT_KEY
    client_id: str = DEFAULT_CLIENT_ID
    sms_key: str | None = None  # idp's HttpSms signs with the platform's secret key
    slow_seconds: float = 10.0  # longer than the client's default 5 s read timeout
    max_image_bytes: int = 2 * 1024 * 1024
    issuer: str | None = None  # default: <request root>/oidc
    oidc_clients: dict[str, str] = field(
        default_factory=lambda: {"idp-linked": "linked-secret-change-me"})
    oidc_redirect_uris: tuple[str, ...] = ()  # empty: any absolute http(s) URI


class Simulator:
    """Everything the endpoints share, kept in ``app.extensions["simulator"]``."""

    def __init__(self, config: SimConfig, records: Records) -> None:
        self.config = config
        self.records = records
        self.clients = {config.client_id: config.key.encode()}
        self.sms_key = (config.sms_key or config.key).encode()
        self.modes = Modes()
        self.nonces = NonceCache(ttl=2 * MAX_SKEW)
        self.sms = SmsInbox()
        self.codes = Expiring()
        self.tokens = Expiring()
        self.signing_key = ECKey.generate_key(
            "P-256", parameters={"alg": "ES256", "use": "sig"}, auto_kid=True)


def create_app(seed: Sequence[dict[str, Any]] | str | Path | None = None,
               config: SimConfig | None = None, **overrides: Any) -> Flask:
    """Build the simulator; ``seed`` replaces the bundled people (list or JSON file)."""
    config = config or SimConfig(**overrides)
    app = Flask(__name__)
    # Room for a base64 face image at the limit plus the JSON around it.
    app.config.update(MAX_CONTENT_LENGTH=config.max_image_bytes * 2 + 64 * 1024,
                      JSON_AS_ASCII=False)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["simulator"] = Simulator(config, load_records(seed))

    from simulator import admin, authorities, business, oidc, sms

    for module in (authorities, business, oidc, sms, admin):
        app.register_blueprint(module.bp)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        # The contract promises JSON errors everywhere, even for 404/405/413.
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify(error=code, message=exc.description or ""), exc.code or 500

    return app


__all__ = ["SimConfig", "Simulator", "create_app"]
