"""Foreigners' permanent residence ID card numbers, 2023 and 2004/2017 forms."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.realname.documents import DocumentError, Sex, parse

TODAY = dt.date(2025, 6, 1)


def ref_check(body: str) -> str:
    """Independent MOD 11-2 (GB 11643-1999 §8.2 table), as the 2023 card uses."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(body))
    return "10X98765432"[total % 11]


def make(province: str, nationality: str, birth: str, seq: str) -> str:
    body = "9" + province + nationality + birth + seq
    return body + ref_check(body)


def error_of(raw: object) -> DocumentError:
    with pytest.raises(DocumentError) as info:
        parse("foreign_permanent", raw, today=TODAY)
    return info.value


@pytest.mark.parametrize(
    ("raw", "nationality", "region", "birth", "sex"),
    [
        pytest.param("911398199012310021", "KAZ", "北京市", dt.date(1990, 12, 31), Sex.FEMALE,
                     id="published-sample"),
        pytest.param(make("31", "840", "19751003", "015"), "USA", "上海市",
                     dt.date(1975, 10, 3), Sex.MALE, id="usa-shanghai"),
        pytest.param(make("44", "276", "20000229", "102"), "DEU", "广东省",
                     dt.date(2000, 2, 29), Sex.FEMALE, id="leap-day"),
    ],
)  # fmt: skip
def test_2023_form_valid(raw, nationality, region, birth, sex) -> None:
    doc = parse("foreign_permanent", raw, today=TODAY)
    assert doc.number == raw
    assert (doc.nationality, doc.region, doc.birth_date, doc.sex) == (
        nationality,
        region,
        birth,
        sex,
    )
    assert doc.details["form"] == "2023"


def test_2023_form_full_width() -> None:
    raw = make("31", "840", "19751003", "015")
    wide = "".join(chr(ord(c) + 0xFEE0) for c in raw)
    doc = parse("foreign_permanent", wide, today=TODAY)
    assert doc.number == raw and doc.changes == {"width"}


GOOD = make("31", "840", "19751003", "015")


@pytest.mark.parametrize(
    ("raw", "code", "fragment"),
    [
        pytest.param("8" + GOOD[1:], "prefix", "第 1 位应为 9", id="not-9"),
        pytest.param(make("99", "840", "19751003", "015"), "division_code", "第 2–3 位）99",
                     id="province-99"),
        pytest.param(make("81", "840", "19751003", "015"), "division_code", "81",
                     id="hong-kong-office"),
        pytest.param(make("31", "999", "19751003", "015"), "nationality", "第 4–6 位）999",
                     id="nationality-999"),
        pytest.param(make("31", "840", "19750230", "015"), "birth_date", "1975-02-30",
                     id="feb-30"),
        pytest.param(make("31", "840", "19751303", "015"), "birth_date", "1975-13-03",
                     id="month-13"),
        pytest.param(make("31", "840", "20300101", "015"), "birth_date", "晚于今天",
                     id="future"),
        pytest.param(make("31", "840", "18991231", "015"), "birth_date", "早于 1900",
                     id="before-1900"),
        pytest.param(make("31", "840", "19751003", "000"), "sequence", "顺序码", id="seq-000"),
        pytest.param(GOOD[:17] + ("0" if GOOD[17] != "0" else "1"), "check_character",
                     f"最后一位应为 {GOOD[17]}", id="wrong-check"),
        pytest.param(GOOD[:17] + "Y", "check_character", "数字或 X", id="check-Y"),
        pytest.param(GOOD[:5] + "A" + GOOD[6:], "charset", "第 6 位", id="letter"),
        pytest.param(GOOD[:17], "length", "18 或 15 位", id="17"),
        pytest.param(GOOD + "0", "length", "18 或 15 位", id="19"),
    ],
)  # fmt: skip
def test_2023_form_invalid(raw: str, code: str, fragment: str) -> None:
    err = error_of(raw)
    assert err.code == code
    assert fragment in err.message


@pytest.mark.parametrize(
    ("raw", "nationality", "region", "changes"),
    [
        ("KAZ110090123105", "KAZ", "北京市", set()),
        ("kaz110090123105", "KAZ", "北京市", {"case"}),
        ("USA 310075100301", "USA", "上海市", {"whitespace"}),
    ],
)
def test_2004_form_valid(raw: str, nationality: str, region: str, changes: set[str]) -> None:
    doc = parse("foreign_permanent", raw, today=TODAY)
    assert (doc.nationality, doc.region, doc.changes) == (nationality, region, changes)
    assert doc.details["form"] == "2004"
    assert doc.birth_date is None  # not checked for this form: see foreign.py


@pytest.mark.parametrize(
    ("raw", "code", "fragment"),
    [
        pytest.param("KAA110090123105", "nationality", "KAA", id="unknown-nationality"),
        pytest.param("K1Z110090123105", "charset", "国籍代码（第 1–3 位）", id="digit-in-letters"),
        pytest.param("KAZ99009012310A", "charset", "第 15 位", id="letter-in-digits"),
        pytest.param("KAZ990090123105", "division_code", "第 4–5 位）99", id="province-99"),
        pytest.param("KAZ710090123105", "division_code", "71", id="taiwan-office"),
        pytest.param("KAZ11009012310", "length", "18 或 15 位", id="14"),
    ],
)
def test_2004_form_invalid(raw: str, code: str, fragment: str) -> None:
    err = error_of(raw)
    assert err.code == code
    assert fragment in err.message
