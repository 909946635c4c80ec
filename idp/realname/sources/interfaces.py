"""One small port per outside authority (DESIGN.md "Fixed choices"; R-10, R-12, R-33).

Each method either returns a typed answer or raises `AuthorityUnavailable` /
`AuthorityRejected` (results.py). Implementations: the HTTP clients in http.py, which the
bundled simulator (``simulator/``) answers in development and tests.
"""

from __future__ import annotations

from typing import Protocol

from idp.realname.sources.results import (
    CheckResult,
    DocumentType,
    FaceResult,
    LinkedIdentity,
    PhotoReference,
)


class PopulationRegistry(Protocol):
    """The population registry: name + document → match / no_match / deceased / cancelled."""

    def verify(self, name: str, document_type: DocumentType, number: str) -> CheckResult:
        """Check that the name and document belong together and the document is in force."""

    def photo_reference(
        self, name: str, document_type: DocumentType, number: str
    ) -> PhotoReference:
        """Return the handle of the registry photo that the face service compares against."""


class CarrierCheck(Protocol):
    """Mobile carrier three-element check: the phone is registered to this person (R-10)."""

    def three_element(self, name: str, id_number: str, phone: str) -> CheckResult:
        """Check name + ID number + phone number against the carrier's real-name records."""


class BankCardCheck(Protocol):
    """Bank card four-element check, a strong factor (real-name level 2, DESIGN.md)."""

    def four_element(self, name: str, id_number: str, card_number: str, phone: str) -> CheckResult:
        """Check name + ID number + card number + the phone reserved at the bank."""


class SocialSecurityCheck(Protocol):
    """Social security card check (R-10)."""

    def card(self, name: str, id_number: str, card_number: str) -> CheckResult:
        """Check that the social security card belongs to this person and is in force."""


class ProvidentFundCheck(Protocol):
    """Housing provident fund account check (R-10)."""

    def account(self, name: str, id_number: str, account_number: str) -> CheckResult:
        """Check that the provident fund account belongs to this person."""


class DrivingLicenceCheck(Protocol):
    """Traffic police driving licence file number check (R-10)."""

    def file_number(self, name: str, id_number: str, file_number: str) -> CheckResult:
        """Check that the driving licence file number belongs to this person."""


class FaceService(Protocol):
    """Face comparison against the registry photo, with liveness (R-33)."""

    def compare(self, photo_ref: str, image: bytes) -> FaceResult:
        """Compare a captured JPEG/PNG image with the registry photo behind ``photo_ref``."""


class TrustedPlatform(Protocol):
    """The trusted official platform for linked registration: an OIDC upstream (R-12)."""

    def authorization_url(
        self,
        redirect_uri: str,
        *,
        state: str,
        nonce: str,
        code_verifier: str,
        login_hint: str | None = None,
    ) -> str:
        """Build the authorization-code request URL (OIDC Core §3.1.2.1, PKCE S256)."""

    def complete(
        self, code: str, redirect_uri: str, *, nonce: str, code_verifier: str
    ) -> LinkedIdentity:
        """Redeem the code, verify the ID token and return the asserted real-name identity."""
