"""This node's federation settings, checked once (issue 6; settings ``IDP_FEDERATION_*``)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idp.federation.regions import NATIONAL, RegionError, check_code
from idp.settings import Settings, SettingsError

MODES = ("separate", "unified_separate", "unified")
LEVELS = ("national", "province", "city")


@dataclass(frozen=True)
class FederationConfig:
    entity_id: str
    level: str  # "" when the node is not federated
    region: str
    parent: str
    mode: str
    anchor_jwks: dict[str, Any] | None  # None on the national node: its own keys
    directory_key: bytes | None
    statement_ttl: int
    http_timeout: int
    allow_http: bool = False  # http:// entity ids (loopback development and tests only)

    @property
    def enabled(self) -> bool:
        return bool(self.level)

    @property
    def is_anchor(self) -> bool:
        return self.level == "national"


def load_jwks(value: str) -> dict[str, Any]:
    """A JWKS given as JSON text or as the path of a file holding it."""
    text = value.strip()
    if not text.startswith("{"):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError(f"cannot read JWKS file {value!r}") from exc
    try:
        jwks = json.loads(text)
    except ValueError as exc:
        raise SettingsError("JWKS is not valid JSON") from exc
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        raise SettingsError("JWKS must be an object with a non-empty keys list")
    if any("d" in k for k in keys):
        raise SettingsError("JWKS must hold public keys only")
    return {"keys": keys}


def _directory_key(value: str) -> bytes | None:
    if not value:
        return None
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise SettingsError("IDP_FEDERATION_DIRECTORY_KEY must be base64") from exc
    if len(key) != 32:
        raise SettingsError("IDP_FEDERATION_DIRECTORY_KEY must decode to 32 bytes")
    return key


def from_settings(settings: Settings) -> FederationConfig:
    """Check the federation settings; a node that is not federated needs none of them."""
    level = settings.federation_level
    if level and level not in LEVELS:
        raise SettingsError("IDP_FEDERATION_LEVEL must be national, province or city")
    if settings.federation_mode not in MODES:
        raise SettingsError("IDP_FEDERATION_MODE must be separate, unified_separate or unified")
    region, anchor = settings.federation_region, None
    if level:
        try:
            check_code(region)
        except RegionError as exc:
            raise SettingsError(f"IDP_FEDERATION_REGION: {exc}") from exc
        if (level == "national") != (region == NATIONAL):
            raise SettingsError("the national node, and only it, has region 000000")
        if (level == "national") == bool(settings.federation_parent):
            raise SettingsError("IDP_FEDERATION_PARENT is required below the national node "
                                "and must be empty on it")
        if level != "national":
            if not settings.federation_anchor_jwks:
                raise SettingsError("IDP_FEDERATION_ANCHOR_JWKS is required below the "
                                    "national node")
            anchor = load_jwks(settings.federation_anchor_jwks)
    return FederationConfig(
        entity_id=settings.issuer.rstrip("/"), level=level, region=region,
        parent=settings.federation_parent.rstrip("/"), mode=settings.federation_mode,
        anchor_jwks=anchor, directory_key=_directory_key(settings.federation_directory_key),
        statement_ttl=settings.federation_statement_ttl,
        http_timeout=max(1, settings.federation_http_timeout),
        allow_http=settings.federation_allow_http)
