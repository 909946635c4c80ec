"""What a parsed identity document tells us: the normalised number and derived facts."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class DocumentType(enum.StrEnum):
    """Document types: the values of ``idp.accounts.models.IdType`` (R-03) plus the USCC (R-20)."""

    RESIDENT_ID = "resident_id"  # 居民身份证 (GB 11643-1999)
    HKMO_RESIDENCE = "hkmo_residence"  # 港澳居民居住证
    TW_RESIDENCE = "tw_residence"  # 台湾居民居住证
    FOREIGN_PERMANENT = "foreign_permanent"  # 外国人永久居留身份证
    HKMO_PERMIT = "hkmo_permit"  # 港澳居民来往内地通行证
    TW_PERMIT = "tw_permit"  # 台湾居民来往大陆通行证
    PASSPORT = "passport"
    USCC = "uscc"  # 统一社会信用代码 (GB 32100-2015)


class Sex(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"

    @classmethod
    def from_sequence_digit(cls, digit: str) -> Sex:
        """GB 11643-1999 §6.4: an odd sequence digit is given to men, an even one to women."""
        return cls.MALE if int(digit) % 2 else cls.FEMALE


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A valid document number with the facts it encodes.

    ``number`` is the normalised form to store and compare (a 15-digit resident ID is already
    converted to 18 digits). ``changes`` names what normalisation did (``"whitespace"``,
    ``"width"``, ``"case"``, ``"converted_15_to_18"``) so a form can tell the user.
    ``details`` holds type-specific extras (renewal count, organisation type, …).
    """

    document_type: DocumentType
    number: str
    changes: frozenset[str] = frozenset()
    birth_date: dt.date | None = None
    sex: Sex | None = None
    division_code: str | None = None
    region: str | None = None
    nationality: str | None = None  # ISO 3166-1 alpha-3
    details: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Frozen all the way down: a parsed document is shared, never edited.
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))
