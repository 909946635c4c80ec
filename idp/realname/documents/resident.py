"""Citizen identity numbers (GB 11643-1999) and the residence permits that share their form.

Structure of the 18 characters (GB 11643-1999 §5–§8): 6-digit address code (GB/T 2260
division), 8-digit birth date YYYYMMDD (GB/T 7408), 3-digit sequence code whose last digit is
odd for men and even for women, and an ISO 7064 MOD 11-2 check character (0–9 or X).

The 15-digit numbers issued before 1999 have the same parts with a 2-digit year (19YY) and no
check character; they are converted to 18 (GB 11643-1999 Annex / 国发〔1999〕15号).

Residence permits for Hong Kong, Macao and Taiwan residents (国办发〔2018〕81号) use the same
18-character form with the fixed address codes 810000 (Hong Kong), 820000 (Macao) and 830000
(Taiwan) and the same check rule.
"""

from __future__ import annotations

import datetime as dt

from idp.realname.documents import common, divisions
from idp.realname.documents.checksums import mod11_2
from idp.realname.documents.errors import DivisionCodeError
from idp.realname.documents.model import DocumentType, ParsedDocument, Sex
from idp.realname.documents.normalise import Normalised

PERMIT_DIVISIONS: dict[str, str] = {
    "810000": "香港特别行政区",
    "820000": "澳门特别行政区",
    "830000": "台湾地区",
}
_PERMIT_CODES_FOR = {
    DocumentType.HKMO_RESIDENCE: ("810000", "820000"),
    DocumentType.TW_RESIDENCE: ("830000",),
}


def convert_15_to_18(number: str) -> str:
    """Insert the century "19" and append the MOD 11-2 check character."""
    body = number[:6] + "19" + number[6:]
    return body + mod11_2(body)


def _check_18(value: str, today: dt.date) -> tuple[dt.date, Sex]:
    """Charset, birth date, sequence and check character of any 18-character number."""
    common.require_digits(value, 0, 6, "地址码", "division code")
    common.require_digits(value, 6, 14, "出生日期", "birth date")
    common.require_digits(value, 14, 17, "顺序码", "sequence code")
    common.require_check_digit_charset(value)
    born = common.birth_date(value[6:14], 6, today)
    common.require_sequence(value, 14, 17)
    common.require_mod11_2(value)
    return born, Sex.from_sequence_digit(value[16])


def _check_15(value: str, today: dt.date) -> tuple[dt.date, Sex]:
    """Checks of a legacy number: 6-digit division, YYMMDD (19YY), sequence; no check digit."""
    common.require_digits(value, 0, 15, "15 位身份证号码", "15-digit ID number")
    _refuse_permit_division(value)
    common.require_division(value[:6])
    born = common.birth_date("19" + value[6:12], 6, today, width=6)
    common.require_sequence(value, 12, 15)
    return born, Sex.from_sequence_digit(value[14])


def _refuse_permit_division(value: str) -> None:
    if value[:6] in PERMIT_DIVISIONS:
        raise DivisionCodeError(
            f"地址码（第 1–6 位）{value[:6]} 属于港澳台居民居住证，请选择对应的证件类型",
            f"The division code (characters 1–6) {value[:6]} belongs to a residence permit "
            "for Hong Kong, Macao or Taiwan residents; please choose that document type",
        )


def parse_resident_id(norm: Normalised, today: dt.date) -> ParsedDocument:
    """Parse a mainland resident ID number, 18 characters or the legacy 15 digits."""
    value, changes = norm.value, set(norm.changes)
    common.require_length(value, (18, 15), "居民身份证号码", "resident ID number")
    if len(value) == 15:
        born, sex = _check_15(value, today)
        value = convert_15_to_18(value)
        changes.add("converted_15_to_18")
    else:
        common.require_digits(value, 0, 6, "地址码", "division code")
        _refuse_permit_division(value)
        common.require_division(value[:6])
        born, sex = _check_18(value, today)
    return ParsedDocument(
        DocumentType.RESIDENT_ID,
        value,
        frozenset(changes),
        birth_date=born,
        sex=sex,
        division_code=value[:6],
        region=divisions.region_name(value[:6]),
        nationality="CHN",
    )


def parse_residence_permit(
    document_type: DocumentType, norm: Normalised, today: dt.date
) -> ParsedDocument:
    """Parse a residence permit number for Hong Kong/Macao or Taiwan residents."""
    value = norm.value
    common.require_length(value, (18,), "居住证号码", "residence permit number")
    common.require_digits(value, 0, 6, "地址码", "division code")
    allowed = _PERMIT_CODES_FOR[document_type]
    if value[:6] not in allowed:
        raise DivisionCodeError(
            f"地址码（第 1–6 位）应为 {' 或 '.join(allowed)}，现在是 {value[:6]}",
            f"The division code (characters 1–6) must be {' or '.join(allowed)}, not {value[:6]}",
        )
    born, sex = _check_18(value, today)
    return ParsedDocument(
        document_type,
        value,
        norm.changes,
        birth_date=born,
        sex=sex,
        division_code=value[:6],
        region=PERMIT_DIVISIONS[value[:6]],
    )
