"""Typed answers and failures of the verification sources (R-10, R-12, R-33; docs/authorities.md).

An authority answers with a verdict, never with the record it holds: the platform learns
"this name, number and phone belong together", not the person's file (R-70, data minimisation).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Authority(enum.StrEnum):
    """The outside authorities, by the name used on the wire, in logs and in exceptions."""

    POPULATION_REGISTRY = "population_registry"
    CARRIER = "carrier"
    BANK = "bank"
    SOCIAL_SECURITY = "social_security"
    PROVIDENT_FUND = "provident_fund"
    DRIVING_LICENCE = "driving_licence"
    FACE = "face"
    TRUSTED_PLATFORM = "trusted_platform"
    BUSINESS_REGISTRY = "business_registry"  # legal persons: sources/business.py


class Verdict(enum.StrEnum):
    """What an authority says about the submitted elements."""

    MATCH = "match"
    NO_MATCH = "no_match"
    DECEASED = "deceased"  # population registry only: name and number match a deceased person
    CANCELLED = "cancelled"  # population registry only: the document has been cancelled


class DocumentType(enum.StrEnum):
    """Document types the population registry accepts (wire values, docs/authorities.md)."""

    RESIDENT_ID = "resident_id"
    HK_MACAO_RESIDENCE_PERMIT = "hk_macao_residence_permit"
    TAIWAN_RESIDENCE_PERMIT = "taiwan_residence_permit"
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence"


@dataclass(frozen=True)
class CheckResult:
    """The answer to an element check; ``reference`` is the authority's id for audit."""

    authority: Authority
    verdict: Verdict
    reference: str

    @property
    def matched(self) -> bool:
        return self.verdict is Verdict.MATCH


@dataclass(frozen=True)
class PhotoReference:
    """The registry photo handle for a face comparison; ``photo_ref`` only on a match."""

    verdict: Verdict
    photo_ref: str | None
    reference: str


@dataclass(frozen=True)
class FaceResult:
    """Face comparison: similarity in [0, 1], liveness, and the authority's overall verdict."""

    verdict: Verdict
    score: float
    liveness_passed: bool
    reference: str

    @property
    def matched(self) -> bool:
        return self.verdict is Verdict.MATCH and self.liveness_passed


@dataclass(frozen=True)
class LinkedIdentity:
    """A real-name identity asserted by the trusted official platform (R-12).

    ``acr`` is the upstream's assurance value; mapping it to our levels is configuration,
    done by the registration flow, not here.
    """

    issuer: str
    subject: str
    name: str
    document_type: str
    document_number: str
    acr: str
    phone: str | None = None


class AuthorityError(Exception):
    """A check could not be done; ``authority`` lets the UI say which one (DESIGN.md)."""

    def __init__(self, authority: Authority, message: str, *, code: str = "") -> None:
        super().__init__(f"{authority.value}: {message}")
        self.authority = authority
        self.code = code


class AuthorityUnavailable(AuthorityError):
    """Timeout, refused connection or a 5xx answer: the user may retry later or pick another
    factor."""


class AuthorityRejected(AuthorityError):
    """The authority refused our request (4xx: bad signature, replayed nonce, bad input).

    This is our fault or a configuration problem, not the citizen's; operators must look.
    """


class InvalidCheckRequest(ValueError):
    """The caller's input cannot be sent at all (e.g. an empty or oversized face image)."""
