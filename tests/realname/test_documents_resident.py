"""GB 11643-1999 resident ID numbers and HK/Macao/Taiwan residence permits (issue 3 item 1)."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from idp.realname.documents import DocumentError, Sex, parse

TODAY = dt.date(2025, 6, 1)


def ref_check(body: str) -> str:
    """Independent MOD 11-2: the lookup table printed in GB 11643-1999 §8.2."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(body))
    return "10X98765432"[total % 11]


def make(division: str, birth: str, seq: str) -> str:
    body = division + birth + seq
    return body + ref_check(body)


def error_of(id_type: str, raw: object, **kw: object) -> DocumentError:
    with pytest.raises(DocumentError) as info:
        parse(id_type, raw, today=TODAY, **kw)
    return info.value


def test_reference_check_agrees_with_standard_example() -> None:
    # The example number printed in GB 11643-1999 itself.
    assert ref_check("11010519491231002") == "X"


@pytest.mark.parametrize(
    ("raw", "number", "birth", "sex", "region", "changes"),
    [
        pytest.param("11010519491231002X", "11010519491231002X", dt.date(1949, 12, 31),
                     Sex.FEMALE, "北京市朝阳区", set(), id="gb11643-example"),
        pytest.param("11010519491231002x", "11010519491231002X", dt.date(1949, 12, 31),
                     Sex.FEMALE, "北京市朝阳区", {"case"}, id="lower-x"),
        pytest.param("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X",
                     dt.date(1949, 12, 31), Sex.FEMALE, "北京市朝阳区", {"width"}, id="full-width"),
        pytest.param(" 110105 19491231\u3000002X\n", "11010519491231002X", dt.date(1949, 12, 31),
                     Sex.FEMALE, "北京市朝阳区", {"whitespace", "width"}, id="spaces"),
        pytest.param(make("350203", "19900101", "123"), make("350203", "19900101", "123"),
                     dt.date(1990, 1, 1), Sex.MALE, "福建省厦门市思明区", set(),
                     id="generated-male"),
        pytest.param(make("310103", "19800229", "002"), make("310103", "19800229", "002"),
                     dt.date(1980, 2, 29), Sex.FEMALE, "上海市卢湾区", set(),
                     id="abolished-division-leap-day"),
        pytest.param(make("110101", "19000101", "001"), make("110101", "19000101", "001"),
                     dt.date(1900, 1, 1), Sex.MALE, "北京市东城区", set(), id="earliest-birth"),
        pytest.param(make("650102", "20250601", "010"), make("650102", "20250601", "010"),
                     TODAY, Sex.FEMALE, "新疆维吾尔自治区乌鲁木齐市天山区", set(), id="born-today"),
        pytest.param("110105491231002", "11010519491231002X", dt.date(1949, 12, 31),
                     Sex.FEMALE, "北京市朝阳区", {"converted_15_to_18"}, id="legacy-15"),
    ],
)  # fmt: skip
def test_resident_id_valid(raw, number, birth, sex, region, changes) -> None:
    doc = parse("resident_id", raw, today=TODAY)
    assert doc.number == number
    assert doc.birth_date == birth
    assert doc.sex is sex
    assert doc.region == region
    assert doc.division_code == number[:6]
    assert doc.nationality == "CHN"
    assert doc.changes == changes


# A number whose check character is a digit (so that "X instead of a digit" can be tested).
GOOD = next(
    n for n in (make("350203", "19900101", f"{s:03d}") for s in range(1, 20)) if n[-1] != "X"
)
WRONG_DIGIT = GOOD[:17] + str((int(GOOD[17]) + 1) % 10)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("110105194912310020", "X", id="digit-instead-of-X"),
        pytest.param(GOOD[:17] + "X", GOOD[17], id="X-instead-of-digit"),
        pytest.param(WRONG_DIGIT, GOOD[17], id="other-digit"),
        pytest.param(GOOD[:12] + GOOD[13] + GOOD[12] + GOOD[14:], None, id="transposed-day"),
    ],
)
def test_resident_id_wrong_check_character(raw: str, expected: str | None) -> None:
    err = error_of("resident_id", raw)
    assert err.code == "check_character"
    assert "校验位" in err.message and "check character" in err.messages["en"]
    want = expected or ref_check(raw[:17])
    assert f"最后一位应为 {want}" in err.message


@pytest.mark.parametrize("last", ["Y", "A", "*", "é"])
def test_resident_id_check_character_not_digit_or_x(last: str) -> None:
    err = error_of("resident_id", GOOD[:17] + last)
    assert err.code == "check_character"
    assert "数字或 X" in err.message


@pytest.mark.parametrize(
    ("birth", "shown", "why"),
    [
        pytest.param("19900230", "1990-02-30", "不存在", id="feb-30"),
        pytest.param("19010229", "1901-02-29", "不存在", id="feb-29-non-leap"),
        pytest.param("19000229", "1900-02-29", "不存在", id="feb-29-century-non-leap"),
        pytest.param("19901301", "1990-13-01", "不存在", id="month-13"),
        pytest.param("19900001", "1990-00-01", "不存在", id="month-00"),
        pytest.param("19900100", "1990-01-00", "不存在", id="day-00"),
        pytest.param("19900431", "1990-04-31", "不存在", id="april-31"),
        pytest.param("20250602", "2025-06-02", "晚于今天", id="tomorrow"),
        pytest.param("20990101", "2099-01-01", "晚于今天", id="future"),
        pytest.param("18991231", "1899-12-31", "早于 1900", id="before-1900"),
    ],
)
def test_resident_id_impossible_birth_date(birth: str, shown: str, why: str) -> None:
    err = error_of("resident_id", make("110105", birth, "123"))
    assert err.code == "birth_date"
    assert f"出生日期（第 7–14 位）{shown} {why}" in err.message
    assert shown in err.messages["en"]


def test_legacy_15_impossible_date_names_its_positions() -> None:
    err = error_of("resident_id", "110105900230123")
    assert err.code == "birth_date"
    assert "第 7–12 位" in err.message and "1990-02-30" in err.message


def test_default_today_refuses_tomorrow() -> None:
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).strftime("%Y%m%d")
    with pytest.raises(DocumentError) as info:
        parse("resident_id", make("110105", tomorrow, "123"))
    assert info.value.code == "birth_date"


@pytest.mark.parametrize(
    ("division", "fragment"),
    [
        pytest.param("990101", "省级代码（第 1–2 位）99", id="province-99"),
        pytest.param("000000", "省级代码（第 1–2 位）00", id="zeros"),
        pytest.param("160101", "省级代码（第 1–2 位）16", id="province-16"),
        pytest.param("119901", "地址码（第 1–6 位）119901", id="unknown-prefecture"),
        pytest.param("350299", "地址码（第 1–6 位）350299", id="unknown-county"),
        pytest.param("810000", "港澳台居民居住证", id="hk-permit-code"),
        pytest.param("830000", "港澳台居民居住证", id="tw-permit-code"),
    ],
)
def test_resident_id_unknown_division(division: str, fragment: str) -> None:
    err = error_of("resident_id", make(division, "19900101", "123"))
    assert err.code == "division_code"
    assert fragment in err.message


def test_legacy_15_unknown_division() -> None:
    err = error_of("resident_id", "990101900101123")
    assert err.code == "division_code"


@pytest.mark.parametrize("raw", [make("110105", "19900101", "000"), "110105900101000"])
def test_resident_id_sequence_000(raw: str) -> None:
    err = error_of("resident_id", raw)
    assert err.code == "sequence"
    assert "顺序码" in err.message


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(GOOD[:17], id="17"),
        pytest.param(GOOD + "1", id="19"),
        pytest.param(GOOD[:16], id="16"),
        pytest.param(GOOD[:14], id="14"),
        pytest.param("1", id="1"),
        pytest.param("1" * 64, id="64"),
    ],
)
def test_resident_id_wrong_length(raw: str) -> None:
    err = error_of("resident_id", raw)
    assert err.code == "length"
    assert "18 或 15 位" in err.message and f"{len(raw)} 位" in err.message


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        pytest.param("11010A19491231002X", "地址码（第 6 位）", id="letter-in-division"),
        pytest.param("1101051949I231002X", "出生日期（第 11 位）", id="letter-in-birth"),
        pytest.param("110105194912310O2X", "顺序码（第 16 位）", id="letter-in-sequence"),
        pytest.param("一二三四五六七八九十一二三四五六七八", "地址码（第 1 位）", id="chinese"),
        pytest.param("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "地址码（第 1 位）", id="arabic-indic-digits"),
        pytest.param("11010519491231002😀", "校验位", id="emoji"),
        pytest.param("1101054912A1002", "15 位身份证号码（第 11 位）", id="letter-in-15"),
    ],
)
def test_resident_id_wrong_characters(raw: str, fragment: str) -> None:
    err = error_of("resident_id", raw)
    assert err.code in ("charset", "check_character")
    assert fragment in err.message


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000\t\n"])
def test_resident_id_empty(raw: object) -> None:
    err = error_of("resident_id", raw)
    assert err.code == "empty"
    assert err.message == "请填写证件号码"


def test_very_long_input_is_refused_without_echo() -> None:
    raw = "1" * 10_000
    err = error_of("resident_id", raw)
    assert err.code == "length"
    assert raw[:65] not in err.message


@pytest.mark.parametrize("raw", [110105194912310020, 1.5, b"11010519491231002X", ["x"]])
def test_non_text_is_refused(raw: object) -> None:
    assert error_of("resident_id", raw).code == "charset"


def test_every_single_substitution_is_refused() -> None:
    rng = random.Random(3)
    for _ in range(15):
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(25_000))
        good = make("350203", born.strftime("%Y%m%d"), f"{rng.randrange(1, 1000):03d}")
        assert parse("resident_id", good, today=TODAY).number == good
        for i in range(18):
            for c in "0123456789X":
                if c != good[i] and (i == 17 or c != "X"):
                    with pytest.raises(DocumentError):
                        parse("resident_id", good[:i] + c + good[i + 1 :], today=TODAY)


# -- residence permits for Hong Kong, Macao and Taiwan residents ---------------------------


@pytest.mark.parametrize(
    ("id_type", "division", "region"),
    [
        ("hkmo_residence", "810000", "香港特别行政区"),
        ("hkmo_residence", "820000", "澳门特别行政区"),
        ("tw_residence", "830000", "台湾地区"),
    ],
)
def test_residence_permit_valid(id_type: str, division: str, region: str) -> None:
    number = make(division, "19851120", "047")
    doc = parse(id_type, number.lower(), today=TODAY)
    assert (doc.number, doc.region, doc.division_code) == (number, region, division)
    assert (doc.birth_date, doc.sex) == (dt.date(1985, 11, 20), Sex.MALE)


@pytest.mark.parametrize(
    ("id_type", "division"),
    [
        ("hkmo_residence", "830000"),
        ("hkmo_residence", "110105"),
        ("tw_residence", "810000"),
        ("tw_residence", "820000"),
        ("tw_residence", "350203"),
    ],
)
def test_residence_permit_wrong_division(id_type: str, division: str) -> None:
    err = error_of(id_type, make(division, "19851120", "047"))
    assert err.code == "division_code"
    assert f"现在是 {division}" in err.message


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param(make("810000", "19850230", "047"), "birth_date", id="feb-30"),
        pytest.param(make("810000", "19851120", "000"), "sequence", id="sequence-000"),
        pytest.param(make("810000", "19851120", "047")[:17] + "Y", "check_character", id="Y"),
        pytest.param(make("810000", "19851120", "047")[:17], "length", id="17"),
        pytest.param("8100001985112004", "length", id="16"),
        pytest.param("81000019851I20047X", "charset", id="letter"),
    ],
)
def test_residence_permit_invalid(raw: str, code: str) -> None:
    assert error_of("hkmo_residence", raw).code == code


def test_residence_permit_wrong_check_character() -> None:
    good = make("830000", "19700101", "008")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    err = error_of("tw_residence", bad)
    assert err.code == "check_character"
    assert f"最后一位应为 {good[17]}" in err.message
