"""What a department system tells the connector: the platform, its client, its paths."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")


class ConfigError(ValueError):
    """The connector cannot start with this configuration; the message says which setting."""


@dataclass(frozen=True)
class ConnectorConfig:
    """Settings of one relying party (docs/integration §3).

    ``base_url`` is the system's own external address; the redirect, post-logout and
    back-channel URIs registered with the platform are derived from it and ``prefix``.
    """

    issuer: str
    client_id: str
    base_url: str
    client_secret: str | None = None
    scope: str = "openid profile"
    prefix: str = "/oidc"
    token_endpoint_auth_method: str = "client_secret_basic"
    private_key: dict[str, Any] | None = None  # a JWK, for private_key_jwt
    session_lifetime: int = 8 * 3600
    timeout: float = 10.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("issuer", "base_url"):
            parts = urlsplit(getattr(self, name))
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
                raise ConfigError(f"{name} must be an absolute http(s) URL")
        if not self.client_id:
            raise ConfigError("client_id is required")
        if "openid" not in self.scope.split():
            raise ConfigError("scope must include openid")
        if self.token_endpoint_auth_method not in AUTH_METHODS:
            raise ConfigError(f"token_endpoint_auth_method must be one of {AUTH_METHODS}")
        if self.token_endpoint_auth_method.startswith("client_secret") and not self.client_secret:
            raise ConfigError("client_secret is required for " + self.token_endpoint_auth_method)
        if self.token_endpoint_auth_method == "private_key_jwt":
            _check_private_key(self.private_key)
        if not self.prefix.startswith("/") or self.prefix.endswith("/"):
            raise ConfigError("prefix must start with / and not end with /")

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url.rstrip('/')}{self.prefix}/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.base_url.rstrip('/')}/"

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.base_url.rstrip('/')}{self.prefix}/backchannel-logout"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], prefix: str = "IDP_CONNECTOR_"
                     ) -> ConnectorConfig:
        """Build from ``IDP_CONNECTOR_ISSUER``-style keys (Flask config or ``os.environ``)."""
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key.startswith(prefix) and key[len(prefix):].lower() in known:
                kwargs[key[len(prefix):].lower()] = value
        missing = [f"{prefix}{n.upper()}" for n in ("issuer", "client_id", "base_url")
                   if n not in kwargs]
        if missing:
            raise ConfigError("missing setting(s): " + ", ".join(missing))
        for name, kind in (("session_lifetime", int), ("timeout", float)):
            if name in kwargs:
                try:
                    kwargs[name] = kind(kwargs[name])
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"{prefix}{name.upper()} must be a number") from exc
        return cls(**kwargs)


def _check_private_key(key: dict[str, Any] | None) -> None:
    """private_key_jwt (RFC 7523 §2.2) needs a private JWK with an ``alg`` we can sign with."""
    from joserfc import jwk
    from joserfc.errors import JoseError

    if not isinstance(key, dict) or key.get("alg") not in ("ES256", "RS256", "PS256"):
        raise ConfigError("private_key must be a JWK with alg ES256, RS256 or PS256")
    try:
        imported = jwk.import_key(key)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as exc:
        raise ConfigError("private_key is not a valid JWK") from exc
    if not imported.is_private:
        raise ConfigError("private_key must hold the private part")
