"""The further factors of online registration and the level they earn (R-10, DESIGN.md).

After name + document, a person proves at least two of these. Each factor names the fields
it needs, checks their shape before any authority is asked (bad input costs no check), and
calls its authority. Bank card four-element (and face, not offered online yet) is strong:
one strong factor raises the account to real-name level 2.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from idp.accounts.service import looks_like_phone, normalize_phone
from idp.realname.sources import CheckResult, Sources


class Factor(enum.StrEnum):
    PHONE = "phone"  # carrier three-element + SMS code proving possession
    SOCIAL_SECURITY = "social_security"
    BANK_CARD = "bank_card"  # four-element, strong
    PROVIDENT_FUND = "provident_fund"
    DRIVING_LICENCE = "driving_licence"


STRONG = frozenset({Factor.BANK_CARD})
REQUIRED_FACTORS = 2  # plus name + document: "three factors"


class FieldError(ValueError):
    """A factor field has the wrong shape; ``field`` names it, ``str()`` is a code."""

    def __init__(self, field: str, code: str) -> None:
        super().__init__(code)
        self.field = field
        self.code = code


def _fold(value: str) -> str:
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


def _digits(min_len: int, max_len: int) -> Callable[[str], str]:
    pattern = re.compile(rf"^\d{{{min_len},{max_len}}}$")

    def clean(value: str) -> str:
        folded = _fold(value)
        if not pattern.match(folded):
            raise ValueError("format")
        return folded

    return clean


def _alnum(min_len: int, max_len: int) -> Callable[[str], str]:
    pattern = re.compile(rf"^[0-9A-Z]{{{min_len},{max_len}}}$")

    def clean(value: str) -> str:
        folded = _fold(value)
        if not pattern.match(folded):
            raise ValueError("format")
        return folded

    return clean


def _phone(value: str) -> str:
    if not looks_like_phone(value):
        raise ValueError("format")
    return normalize_phone(value)


def _bank_card(value: str) -> str:
    """Card numbers (ISO/IEC 7812) are 12–19 digits with a Luhn check digit."""
    card = _digits(12, 19)(value)
    total = 0
    for i, ch in enumerate(reversed(card)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    if total % 10:
        raise ValueError("check_digit")
    return card


@dataclass(frozen=True)
class FactorSpec:
    """What one factor asks for and which authority answers."""

    factor: Factor
    fields: Mapping[str, Callable[[str], str]]
    check: Callable[[Sources, str, str, Mapping[str, str]], CheckResult]


SPECS: dict[Factor, FactorSpec] = {
    Factor.PHONE: FactorSpec(
        Factor.PHONE, {"phone": _phone},
        lambda s, name, number, f: s.carrier.three_element(name, number, f["phone"])),
    Factor.SOCIAL_SECURITY: FactorSpec(
        Factor.SOCIAL_SECURITY, {"card_number": _alnum(6, 20)},
        lambda s, name, number, f: s.social_security.card(name, number, f["card_number"])),
    Factor.BANK_CARD: FactorSpec(
        Factor.BANK_CARD, {"card_number": _bank_card, "phone": _phone},
        lambda s, name, number, f: s.bank.four_element(name, number, f["card_number"],
                                                       f["phone"])),
    Factor.PROVIDENT_FUND: FactorSpec(
        Factor.PROVIDENT_FUND, {"account_number": _digits(6, 20)},
        lambda s, name, number, f: s.provident_fund.account(name, number,
                                                            f["account_number"])),
    Factor.DRIVING_LICENCE: FactorSpec(
        Factor.DRIVING_LICENCE, {"file_number": _digits(10, 16)},
        lambda s, name, number, f: s.driving_licence.file_number(name, number,
                                                                 f["file_number"])),
}


def clean_fields(factor: Factor, raw: Mapping[str, object]) -> dict[str, str]:
    """Validate and normalise a factor's fields; raise `FieldError` for the first bad one."""
    cleaned = {}
    for name, clean in SPECS[factor].fields.items():
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise FieldError(name, "missing")
        if not isinstance(value, str) or len(value) > 64:
            raise FieldError(name, "format")
        try:
            cleaned[name] = clean(value)
        except ValueError as exc:
            raise FieldError(name, str(exc)) from None
    return cleaned


def level_for(factors: set[str] | list[str]) -> int:
    """Real-name level 1 for three factors, 2 when one of them is strong (DESIGN.md)."""
    return 2 if any(f in STRONG for f in factors) else 1


def masked_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """The factor's fields as the audit log may hold them (R-70)."""
    from idp.crypto import mask_id_number, mask_phone

    return {k: (mask_phone(v) if k == "phone" else mask_id_number(v))
            for k, v in fields.items()}
