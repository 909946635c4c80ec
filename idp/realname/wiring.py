"""Build the registration services from a `Platform` (its settings and ports).

The authority clients and trusted-platform clients are built once per platform, on first
use, and kept in ``platform.services`` — tests may put their own there first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from idp.accounts.sms_codes import SmsCodes
from idp.platform import Platform
from idp.realname.reg_state import RegistrationStates
from idp.realname.registration import Registrations
from idp.realname.sources import (
    Endpoint,
    OidcTrustedPlatform,
    Sources,
    TrustedPlatformConfig,
    http_sources,
)
from idp.settings import SettingsError
from idp.sms import SmsGateway

SMS_TEMPLATE = "verify_code"


class _TemplateAs:
    """Send every code under one existing template, keeping our own code purpose."""

    def __init__(self, inner: SmsGateway, template: str) -> None:
        self._inner = inner
        self._template = template

    def send(self, phone: str, template: str, params: dict[str, str]) -> None:
        self._inner.send(phone, self._template, params)


@dataclass(frozen=True)
class TrustedPlatformEntry:
    """A configured trusted platform (R-12): its client and how its ``acr`` maps to levels."""

    name: str
    label: str
    client: OidcTrustedPlatform
    levels: dict[str, int]


def sources_for(platform: Platform) -> Sources | None:
    """The element-check clients, or None when no authority is configured."""
    if "sources" not in platform.services:
        s = platform.settings
        platform.services["sources"] = http_sources(Endpoint(
            s.authority_url, s.authority_client_id, s.authority_key,
            read_timeout=s.authority_read_timeout_ms / 1000)) if s.authority_url else None
    return platform.services["sources"]  # type: ignore[return-value]


def trusted_platforms(platform: Platform) -> dict[str, TrustedPlatformEntry]:
    """Parse ``trusted_platforms`` once: ``[{name, label, issuer, client_id, client_secret,
    levels: {acr: level}}]``."""
    if "trusted_platforms" not in platform.services:
        platform.services["trusted_platforms"] = _parse_platforms(
            platform.settings.trusted_platforms)
    return platform.services["trusted_platforms"]  # type: ignore[return-value]


def _parse_platforms(raw: str) -> dict[str, TrustedPlatformEntry]:
    if not raw.strip():
        return {}
    try:
        items = json.loads(raw)
        entries = {}
        for item in items:
            levels = {str(k): int(v) for k, v in item.get("levels", {}).items()}
            if any(v not in (1, 2) for v in levels.values()):
                raise ValueError("levels map to 1 or 2 (3 is in person only)")
            config = TrustedPlatformConfig(item["issuer"], item["client_id"],
                                           item["client_secret"])
            entries[str(item["name"])] = TrustedPlatformEntry(
                str(item["name"]), str(item.get("label", item["name"])),
                OidcTrustedPlatform(config), levels)
        return entries
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SettingsError(f"IDP_TRUSTED_PLATFORMS is not valid: {exc}") from exc


def registrations(platform: Platform, address: str) -> Registrations:
    """The registration service for one request from ``address``."""
    s = platform.settings
    sms = SmsCodes(platform.store, platform.limiter, _TemplateAs(platform.sms, SMS_TEMPLATE),
                   s, purpose="register")
    return Registrations(
        db=platform.db, states=states(platform), sources=sources_for(platform),
        protector=platform.protector, hasher=platform.hasher, limiter=platform.limiter,
        sms_codes=sms, settings=s, address=address)


def states(platform: Platform) -> RegistrationStates:
    return RegistrationStates(platform.store, platform.protector,
                              platform.settings.registration_ttl)
