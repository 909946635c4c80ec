"""Travel permits and passports: shape checks only (these numbers carry no check character).

- 港澳居民来往内地通行证 (2013 card form): "H" (Hong Kong) or "M" (Macao) + 8 digits, the
  lifelong number; cards may print 2 more digits, the count of renewals.
- 台湾居民来往大陆通行证 (2015 card form): 8 digits, lifelong; optionally + 2 renewal digits.
  The renewal digits are kept in ``details["renewal_count"]`` and dropped from ``number``, so
  that one person keeps one number across cards (one document number is one account, R-10).
- Passports: the number plus the ISO 3166-1 alpha-3 issuing country. Chinese passports are
  checked against the shapes issued since 2008 (ordinary "E"+8 digits, then "E"+letter+7
  digits once E-series numbers ran out; "G"+8 digits before 2012; diplomatic, service and
  public-affairs "D"/"S"/"P" with or without "E", + 7 digits); other countries' numbers as
  5–20 letters and digits (ICAO 9303 leaves the format to the issuer).
"""

from __future__ import annotations

import re

from idp.realname.documents import common, countries
from idp.realname.documents.errors import CharsetError, CountryError, LengthError, PrefixError
from idp.realname.documents.model import DocumentType, ParsedDocument
from idp.realname.documents.normalise import Normalised, normalise

_HKMO_REGIONS = {"H": "香港特别行政区", "M": "澳门特别行政区"}
_CHN_PASSPORT = re.compile(r"E\d{8}|E[A-Z]\d{7}|G\d{8}|[DSP]E?\d{7}")
_GENERIC_PASSPORT = re.compile(r"[A-Z0-9]{5,20}")


def parse_hkmo_permit(norm: Normalised) -> ParsedDocument:
    """Parse a Mainland Travel Permit for Hong Kong and Macao Residents number."""
    value = norm.value
    common.require_length(value, (9, 11), "港澳居民来往内地通行证号码", "HK/Macao travel permit")
    if value[0] not in _HKMO_REGIONS:
        raise PrefixError(
            f"通行证号码第 1 位应为 H（香港）或 M（澳门），现在是“{value[0]}”",
            f"The permit number starts with H (Hong Kong) or M (Macao), not '{value[0]}'",
        )
    common.require_digits(value, 1, len(value), "号码", "number")
    details = {"renewal_count": value[9:]} if len(value) == 11 else {}
    return ParsedDocument(
        DocumentType.HKMO_PERMIT,
        value[:9],
        norm.changes,
        region=_HKMO_REGIONS[value[0]],
        details=details,
    )


def parse_tw_permit(norm: Normalised) -> ParsedDocument:
    """Parse a Mainland Travel Permit for Taiwan Residents number."""
    value = norm.value
    common.require_length(value, (8, 10), "台湾居民来往大陆通行证号码", "Taiwan travel permit")
    common.require_digits(value, 0, len(value), "号码", "number")
    details = {"renewal_count": value[8:]} if len(value) == 10 else {}
    return ParsedDocument(
        DocumentType.TW_PERMIT, value[:8], norm.changes, region="台湾地区", details=details
    )


def issuing_country(raw: object) -> countries.Country:
    """Normalise and look up a passport's issuing country (ISO 3166-1 alpha-3)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise CountryError(
            "请选择护照签发国家或地区", "Please choose the passport's issuing country"
        )
    try:
        code = normalise(raw).value
    except (CharsetError, LengthError):
        code = ""
    country = countries.by_alpha3(code)
    if country is None:
        raise CountryError(
            "护照签发国家或地区代码无效，应为 ISO 3166-1 三位字母代码（如 CHN）",
            "The issuing country must be an ISO 3166-1 alpha-3 code (such as CHN)",
        )
    return country


def parse_passport(norm: Normalised, country_raw: object) -> ParsedDocument:
    """Parse a passport number issued by ``country_raw`` (required)."""
    country = issuing_country(country_raw)
    value = norm.value
    if country.alpha3 == "CHN":
        if not _CHN_PASSPORT.fullmatch(value):
            raise CharsetError(
                "中国护照号码格式不符：普通护照为 E 加 8 位数字，或 E 加 1 个字母再加 7 位数字",
                "Not a Chinese passport number: ordinary passports are E + 8 digits or "
                "E + a letter + 7 digits",
            )
    else:
        if not 5 <= len(value) <= 20:
            raise LengthError(
                f"护照号码应为 5–20 位，现在是 {len(value)} 位",
                f"A passport number has 5–20 characters, this one has {len(value)}",
            )
        if not _GENERIC_PASSPORT.fullmatch(value):
            raise CharsetError(
                "护照号码只能包含字母和数字", "A passport number has only letters and digits"
            )
    return ParsedDocument(
        DocumentType.PASSPORT,
        value,
        norm.changes,
        nationality=country.alpha3,
        details={"issuing_country": country.alpha3},
    )
