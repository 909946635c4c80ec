"""Travel permits for Hong Kong/Macao and Taiwan residents, and passports."""

from __future__ import annotations

import pytest

from idp.realname.documents import DocumentError, parse


def error_of(id_type: str, raw: object, **kw: object) -> DocumentError:
    with pytest.raises(DocumentError) as info:
        parse(id_type, raw, **kw)
    return info.value


@pytest.mark.parametrize(
    ("raw", "number", "region", "renewal", "changes"),
    [
        ("H12345678", "H12345678", "香港特别行政区", None, set()),
        ("M87654321", "M87654321", "澳门特别行政区", None, set()),
        ("H1234567803", "H12345678", "香港特别行政区", "03", set()),
        ("h12345678", "H12345678", "香港特别行政区", None, {"case"}),
        ("Ｈ１２３４５６７８", "H12345678", "香港特别行政区", None, {"width"}),
        ("H 1234 5678", "H12345678", "香港特别行政区", None, {"whitespace"}),
    ],
)
def test_hkmo_permit_valid(raw, number, region, renewal, changes) -> None:
    doc = parse("hkmo_permit", raw)
    assert (doc.number, doc.region, doc.changes) == (number, region, changes)
    assert doc.details.get("renewal_count") == renewal


@pytest.mark.parametrize(
    ("raw", "code", "fragment"),
    [
        pytest.param("X12345678", "prefix", "H（香港）或 M（澳门）", id="prefix-X"),
        pytest.param("812345678", "prefix", "现在是“8”", id="prefix-digit"),
        pytest.param("H1234567", "length", "现在是 8 位", id="8"),
        pytest.param("H123456789", "length", "现在是 10 位", id="10"),
        pytest.param("H123456789012", "length", "9 或 11 位", id="13"),
        pytest.param("H1234567A", "charset", "第 9 位", id="letter"),
        pytest.param("H12345678AB", "charset", "第 10 位", id="letter-renewal"),
        pytest.param("", "empty", "请填写", id="empty"),
    ],
)
def test_hkmo_permit_invalid(raw: str, code: str, fragment: str) -> None:
    err = error_of("hkmo_permit", raw)
    assert err.code == code
    assert fragment in err.message


@pytest.mark.parametrize(
    ("raw", "number", "renewal"),
    [
        ("12345678", "12345678", None),
        ("1234567801", "12345678", "01"),
        ("１２３４５６７８", "12345678", None),
    ],
)
def test_tw_permit_valid(raw: str, number: str, renewal: str | None) -> None:
    doc = parse("tw_permit", raw)
    assert (doc.number, doc.region) == (number, "台湾地区")
    assert doc.details.get("renewal_count") == renewal


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1234567", "length"),
        ("123456789", "length"),
        ("1234567A", "charset"),
        ("T1234567", "charset"),
    ],
)
def test_tw_permit_invalid(raw: str, code: str) -> None:
    assert error_of("tw_permit", raw).code == code


@pytest.mark.parametrize(
    ("raw", "country", "number"),
    [
        pytest.param("E12345678", "CHN", "E12345678", id="chn-e"),
        pytest.param("ea1234567", "chn", "EA1234567", id="chn-ea-lower"),
        pytest.param("G12345678", "CHN", "G12345678", id="chn-g"),
        pytest.param("DE1234567", "CHN", "DE1234567", id="chn-diplomatic"),
        pytest.param("P1234567", "CHN", "P1234567", id="chn-public-affairs"),
        pytest.param("123456789", "USA", "123456789", id="usa"),
        pytest.param("a1234567", " gbr ", "A1234567", id="gbr-lower"),
        pytest.param("X" * 20, "DEU", "X" * 20, id="20-chars"),
    ],
)
def test_passport_valid(raw: str, country: str, number: str) -> None:
    doc = parse("passport", raw, country=country)
    assert doc.number == number
    assert doc.nationality == country.strip().upper()
    assert doc.details["issuing_country"] == country.strip().upper()


@pytest.mark.parametrize(
    ("raw", "country", "code", "fragment"),
    [
        pytest.param("E1234567", "CHN", "charset", "中国护照", id="chn-short"),
        pytest.param("123456789", "CHN", "charset", "中国护照", id="chn-digits"),
        pytest.param("EA12345678", "CHN", "charset", "中国护照", id="chn-long"),
        pytest.param("A123", "USA", "length", "5–20 位", id="4"),
        pytest.param("A" * 21, "USA", "length", "5–20 位", id="21"),
        pytest.param("AB-12345", "USA", "charset", "字母和数字", id="hyphen"),
        pytest.param("AB12345é", "FRA", "charset", "字母和数字", id="accent"),
        pytest.param("E12345678", None, "country", "签发国家", id="no-country"),
        pytest.param("E12345678", "", "country", "签发国家", id="blank-country"),
        pytest.param("E12345678", "ZZZ", "country", "ISO 3166-1", id="unknown-country"),
        pytest.param("E12345678", "CN", "country", "ISO 3166-1", id="alpha-2"),
        pytest.param("E12345678", "C" * 100, "country", "ISO 3166-1", id="long-country"),
        pytest.param("E12345678", 156, "country", "ISO 3166-1", id="numeric-country"),
    ],
)
def test_passport_invalid(raw: str, country: object, code: str, fragment: str) -> None:
    err = error_of("passport", raw, country=country)
    assert err.code == code
    assert fragment in err.message
