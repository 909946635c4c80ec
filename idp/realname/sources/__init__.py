"""Verification sources: one small port per outside authority (DESIGN.md; R-10, R-12, R-33).

Ports are `typing.Protocol`s (interfaces.py); the HTTP clients (http.py, oidc_upstream.py)
follow the JSON contract in docs/authorities.md, which the bundled ``simulator`` also serves.
Every answer is a typed result carrying a `Verdict` and the authority's reference; every
failure is `AuthorityUnavailable` (retry later / choose another factor) or `AuthorityRejected`
(our request was refused), both naming the authority.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.realname.sources.http import (
    HttpBankCardCheck,
    HttpCarrierCheck,
    HttpDrivingLicenceCheck,
    HttpFaceService,
    HttpPopulationRegistry,
    HttpProvidentFundCheck,
    HttpSocialSecurityCheck,
)
from idp.realname.sources.interfaces import (
    BankCardCheck,
    CarrierCheck,
    DrivingLicenceCheck,
    FaceService,
    PopulationRegistry,
    ProvidentFundCheck,
    SocialSecurityCheck,
    TrustedPlatform,
)
from idp.realname.sources.oidc_upstream import OidcTrustedPlatform, TrustedPlatformConfig
from idp.realname.sources.results import (
    Authority,
    AuthorityError,
    AuthorityRejected,
    AuthorityUnavailable,
    CheckResult,
    DocumentType,
    FaceResult,
    InvalidCheckRequest,
    LinkedIdentity,
    PhotoReference,
    Verdict,
)
from idp.realname.sources.transport import Endpoint


@dataclass(frozen=True)
class Sources:
    """All element-check ports together, as the registration flows receive them."""

    population: PopulationRegistry
    carrier: CarrierCheck
    bank: BankCardCheck
    social_security: SocialSecurityCheck
    provident_fund: ProvidentFundCheck
    driving_licence: DrivingLicenceCheck
    face: FaceService


def http_sources(endpoint: Endpoint) -> Sources:
    """Build every element-check client against one gateway (e.g. the bundled simulator).

    In production each authority usually has its own endpoint; build the clients one by one
    with their own `Endpoint` then.
    """
    return Sources(
        population=HttpPopulationRegistry(endpoint),
        carrier=HttpCarrierCheck(endpoint),
        bank=HttpBankCardCheck(endpoint),
        social_security=HttpSocialSecurityCheck(endpoint),
        provident_fund=HttpProvidentFundCheck(endpoint),
        driving_licence=HttpDrivingLicenceCheck(endpoint),
        face=HttpFaceService(endpoint),
    )


__all__ = [
    "Authority", "AuthorityError", "AuthorityRejected", "AuthorityUnavailable",
    "BankCardCheck", "CarrierCheck", "CheckResult", "DocumentType", "DrivingLicenceCheck",
    "Endpoint", "FaceResult", "FaceService", "HttpBankCardCheck", "HttpCarrierCheck",
    "HttpDrivingLicenceCheck", "HttpFaceService", "HttpPopulationRegistry",
    "HttpProvidentFundCheck", "HttpSocialSecurityCheck", "InvalidCheckRequest",
    "LinkedIdentity", "OidcTrustedPlatform", "PhotoReference", "PopulationRegistry",
    "ProvidentFundCheck", "SocialSecurityCheck", "Sources", "TrustedPlatform",
    "TrustedPlatformConfig", "Verdict", "http_sources",
]
