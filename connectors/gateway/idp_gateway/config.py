"""Gateway settings, from ``IDP_GW_*`` environment variables (README.md lists them).

Checked once at start: a gateway with a missing secret or a short signing key refuses to
start with a message naming the variable, rather than failing on the first login.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from idp_gateway.signing import MIN_KEY_BYTES

PREFIX = "IDP_GW_"


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class GatewayConfig:
    issuer: str  # the platform, e.g. https://tyrz.example.gov.cn
    client_id: str
    client_secret: str
    public_url: str  # this site as browsers see it; callback = public_url + /_gw/callback
    signing_key: bytes  # shared with the legacy application (signing.py)
    min_level: int = 1  # lowest real-name level let through (checked on acr, R-54)
    scope: str = "openid profile"
    database: str = "idp-gateway.sqlite3"  # SQLite file shared by the gateway's workers
    cookie_name: str = "idp_gw"
    secure_cookies: bool = True
    session_ttl: int = 8 * 3600  # absolute lifetime of a gateway session
    idle_timeout: int = 30 * 60  # ends after this long without a request
    http_timeout: float = 5.0  # calls to the platform

    @property
    def redirect_uri(self) -> str:
        return self.public_url + "/_gw/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return self.public_url + "/_gw/signed-out"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewayConfig:
        """Read and check the settings; raise `ConfigError` naming the bad variable."""
        env = os.environ if env is None else env
        get = lambda name, default=None: env.get(PREFIX + name, default)  # noqa: E731
        required = {n: get(n) for n in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET", "PUBLIC_URL")}
        for name, value in required.items():
            if not value:
                raise ConfigError(f"{PREFIX}{name} is required")
        config = cls(
            issuer=_url("ISSUER", required["ISSUER"]),  # type: ignore[arg-type]
            client_id=required["CLIENT_ID"],  # type: ignore[arg-type]
            client_secret=required["CLIENT_SECRET"],  # type: ignore[arg-type]
            public_url=_url("PUBLIC_URL", required["PUBLIC_URL"]),  # type: ignore[arg-type]
            signing_key=_key(get("SIGNING_KEY"), get("SIGNING_KEY_FILE")),
            min_level=_int("MIN_LEVEL", get("MIN_LEVEL", "1"), 1, 3),
            scope=get("SCOPE", "openid profile"),
            database=get("DATABASE", "idp-gateway.sqlite3"),
            cookie_name=get("COOKIE_NAME", "idp_gw"),
            secure_cookies=_bool("SECURE_COOKIES", get("SECURE_COOKIES", "true")),
            session_ttl=_int("SESSION_TTL", get("SESSION_TTL", "28800"), 60, 7 * 86400),
            idle_timeout=_int("IDLE_TIMEOUT", get("IDLE_TIMEOUT", "1800"), 60, 7 * 86400),
            http_timeout=float(_int("HTTP_TIMEOUT", get("HTTP_TIMEOUT", "5"), 1, 60)))
        if "openid" not in config.scope.split():
            raise ConfigError(f"{PREFIX}SCOPE must include openid")
        return config


def _url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query:
        raise ConfigError(f"{PREFIX}{name} must be an http(s) URL without a query")
    return value.rstrip("/")


def _key(value: str | None, file: str | None) -> bytes:
    if file:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{PREFIX}SIGNING_KEY_FILE cannot be read: {exc.strerror}") from exc
    if not value or len(value.encode()) < MIN_KEY_BYTES:
        raise ConfigError(f"{PREFIX}SIGNING_KEY (or _FILE) must hold at least "
                          f"{MIN_KEY_BYTES} bytes")
    return value.encode()


def _int(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a whole number") from None
    if not low <= number <= high:
        raise ConfigError(f"{PREFIX}{name} must be between {low} and {high}")
    return number


def _bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{PREFIX}{name} must be true or false")
