"""Typed errors for identity-document numbers: a machine ``code`` and a message per language.

Each error says WHICH part of the number is wrong (R-10: a wrong number gets a message that
says which part is wrong). ``str(error)`` is only the machine code so that an error that ends
up in a log never carries the number or its birth-date digits; the user-facing texts are in
``message`` (Simplified Chinese) and ``messages`` (``{"zh": …, "en": …}``).
"""

from __future__ import annotations

from typing import Any, ClassVar


class DocumentError(ValueError):
    """A document number that cannot be accepted."""

    code: ClassVar[str] = "invalid"

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(self.code)
        self.message = zh
        self.messages = {"zh": zh, "en": en}

    def __str__(self) -> str:
        return self.code

    def to_dict(self) -> dict[str, Any]:
        """The shape an API puts in a problem document's ``errors`` member."""
        return {"code": self.code, "message": self.message, "messages": dict(self.messages)}


class UnknownDocumentTypeError(DocumentError):
    code = "document_type"


class EmptyError(DocumentError):
    code = "empty"


class LengthError(DocumentError):
    code = "length"


class CharsetError(DocumentError):
    code = "charset"


class CheckCharacterError(DocumentError):
    code = "check_character"


class BirthDateError(DocumentError):
    code = "birth_date"


class DivisionCodeError(DocumentError):
    code = "division_code"


class SequenceError(DocumentError):
    code = "sequence"


class NationalityError(DocumentError):
    code = "nationality"


class CountryError(DocumentError):
    """The issuing country of a passport is missing or not an ISO 3166-1 alpha-3 code."""

    code = "country"


class RegistrationTypeError(DocumentError):
    """GB 32100-2015 positions 1–2: no such registration authority / organisation type pair."""

    code = "registration_type"


class OrganisationCodeError(DocumentError):
    """GB 32100-2015 positions 9–17: the GB 11714 organisation code's own check fails."""

    code = "organisation_code"


class PrefixError(DocumentError):
    """The leading identity marker is wrong (9 of a permanent residence card, H/M of a permit)."""

    code = "prefix"
