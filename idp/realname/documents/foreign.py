"""Foreigners' permanent residence ID card (外国人永久居留身份证), 2023 and earlier forms.

2023 form (issued from 2023-12-01; National Immigration Administration, "新版外国人永久居留
身份证机读信息规则（2023 版）"): 18 characters modelled on GB 11643 — "9" (marks a foreigner;
citizen numbers start 1–8), 2-digit province code of the accepting office, 3-digit ISO 3166-1
numeric nationality code, birth date YYYYMMDD, 3-digit sequence (last digit odd for men, even
for women) and the ISO 7064 MOD 11-2 check character. All parts are checked.

2004/2017 form: 15 characters, 3 Latin letters (ISO 3166-1 alpha-3 nationality, which the
2023 form turned into the numeric code) + 12 digits beginning with the 2-digit province code
of the accepting office. Checked: the nationality, that the rest are digits, the province.
NOT checked: the birth date and the last (check) digit — the published descriptions of their
positions and algorithm disagree and we found no normative text; the registry check decides.
"""

from __future__ import annotations

import datetime as dt

from idp.realname.documents import common, countries, divisions
from idp.realname.documents.errors import (
    CharsetError,
    DivisionCodeError,
    NationalityError,
    PrefixError,
)
from idp.realname.documents.model import DocumentType, ParsedDocument, Sex
from idp.realname.documents.normalise import Normalised

# Foreigners apply at mainland offices only: Taiwan, Hong Kong and Macao codes cannot occur.
_ACCEPTING_PROVINCES = divisions.PROVINCES - {"71", "81", "82"}


def _require_province(code: str, start: int) -> str:
    if code not in _ACCEPTING_PROVINCES:
        raise DivisionCodeError(
            f"受理地省级代码（{common.span(start, start + 2)}）{code} 不存在",
            f"The province code of the accepting office "
            f"({common.span_en(start, start + 2)}) {code} does not exist",
        )
    return divisions.region_name(code + "0000") or code


def _parse_2023(norm: Normalised, today: dt.date) -> ParsedDocument:
    value = norm.value
    if value[0] != "9":
        raise PrefixError(
            f"18 位永久居留身份证号码第 1 位应为 9，现在是“{value[0]}”",
            f"An 18-character permanent residence card number starts with 9, not '{value[0]}'",
        )
    common.require_digits(value, 1, 17, "号码", "number")
    common.require_check_digit_charset(value)
    region = _require_province(value[1:3], 1)
    country = countries.by_numeric(value[3:6])
    if country is None:
        raise NationalityError(
            f"国籍代码（第 4–6 位）{value[3:6]} 不是有效的国家或地区代码",
            f"The nationality code (characters 4–6) {value[3:6]} is not an ISO 3166-1 code",
        )
    born = common.birth_date(value[6:14], 6, today)
    common.require_sequence(value, 14, 17)
    common.require_mod11_2(value)
    return ParsedDocument(
        DocumentType.FOREIGN_PERMANENT,
        value,
        norm.changes,
        birth_date=born,
        sex=Sex.from_sequence_digit(value[16]),
        region=region,
        nationality=country.alpha3,
        details={"form": "2023"},
    )


def _parse_legacy(norm: Normalised) -> ParsedDocument:
    value = norm.value
    for i in range(3):
        if not ("A" <= value[i] <= "Z"):
            raise CharsetError(
                f"国籍代码（第 1–3 位）应为字母，不能是“{value[i]}”",
                f"The nationality code (characters 1–3) must be letters, not '{value[i]}'",
            )
    common.require_digits(value, 3, 15, "号码", "number")
    country = countries.by_alpha3(value[:3])
    if country is None:
        raise NationalityError(
            f"国籍代码（第 1–3 位）{value[:3]} 不是有效的国家或地区代码",
            f"The nationality code (characters 1–3) {value[:3]} is not an ISO 3166-1 code",
        )
    region = _require_province(value[3:5], 3)
    return ParsedDocument(
        DocumentType.FOREIGN_PERMANENT,
        value,
        norm.changes,
        region=region,
        nationality=country.alpha3,
        details={"form": "2004"},
    )


def parse_foreign_permanent(norm: Normalised, today: dt.date) -> ParsedDocument:
    """Parse a permanent residence card number of either form."""
    common.require_length(norm.value, (18, 15), "永久居留身份证号码", "permanent residence number")
    return _parse_2023(norm, today) if len(norm.value) == 18 else _parse_legacy(norm)
