"""Checks shared by several document types; each raises an error naming the part at fault."""

from __future__ import annotations

import datetime as dt

from idp.realname.documents import divisions
from idp.realname.documents.checksums import mod11_2
from idp.realname.documents.errors import (
    BirthDateError,
    CharsetError,
    CheckCharacterError,
    DivisionCodeError,
    LengthError,
    SequenceError,
)

EARLIEST_BIRTH = dt.date(1900, 1, 1)


def span(start: int, end: int) -> str:
    """Human positions (1-based, inclusive) of ``value[start:end]``: ``"第 7–14 位"``."""
    return f"第 {start + 1} 位" if end - start == 1 else f"第 {start + 1}–{end} 位"


def span_en(start: int, end: int) -> str:
    return f"character {start + 1}" if end - start == 1 else f"characters {start + 1}–{end}"


def require_length(value: str, allowed: tuple[int, ...], name_zh: str, name_en: str) -> None:
    """Refuse a number whose length is none of ``allowed``."""
    if len(value) in allowed:
        return
    want = " 或 ".join(str(n) for n in allowed)
    want_en = " or ".join(str(n) for n in allowed)
    raise LengthError(
        f"{name_zh}应为 {want} 位，现在是 {len(value)} 位",
        f"A {name_en} has {want_en} characters, this one has {len(value)}",
    )


def require_digits(value: str, start: int, end: int, part_zh: str, part_en: str) -> None:
    """Refuse any character of ``value[start:end]`` that is not an ASCII digit."""
    for i in range(start, end):
        if not ("0" <= value[i] <= "9"):
            raise CharsetError(
                f"{part_zh}（{span(i, i + 1)}）应为数字，不能是“{value[i]}”",
                f"The {part_en} ({span_en(i, i + 1)}) must be a digit, not '{value[i]}'",
            )


def require_check_digit_charset(value: str) -> None:
    """The last of 18 characters is a digit or X (ISO 7064 MOD 11-2)."""
    last = value[-1]
    if not ("0" <= last <= "9" or last == "X"):
        raise CheckCharacterError(
            f"校验位（最后一位）应为数字或 X，不能是“{last}”",
            f"The check character (last) must be a digit or X, not '{last}'",
        )


def birth_date(digits: str, start: int, today: dt.date, width: int = 8) -> dt.date:
    """Parse YYYYMMDD found at ``start``: it must exist, not be in the future nor before 1900.

    ``width`` is how many characters the date takes in the number (6 for YYMMDD forms, whose
    century the caller has already prefixed), so that the message points at the right place.
    """
    where, where_en = span(start, start + width), span_en(start, start + width)
    shown = f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    try:
        born = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise BirthDateError(
            f"出生日期（{where}）{shown} 不存在",
            f"The birth date ({where_en}) {shown} does not exist",
        ) from None
    if born > today:
        raise BirthDateError(
            f"出生日期（{where}）{shown} 晚于今天",
            f"The birth date ({where_en}) {shown} is in the future",
        )
    if born < EARLIEST_BIRTH:
        raise BirthDateError(
            f"出生日期（{where}）{shown} 早于 1900 年",
            f"The birth date ({where_en}) {shown} is before 1900",
        )
    return born


def require_sequence(value: str, start: int, end: int) -> None:
    """An all-zero sequence code is never issued (GB 11643-1999 §6.4 numbers from 001)."""
    if set(value[start:end]) == {"0"}:
        raise SequenceError(
            f"顺序码（{span(start, end)}）不能全为 0",
            f"The sequence code ({span_en(start, end)}) cannot be all zeros",
        )


def require_mod11_2(value: str) -> None:
    """The 18th character is the ISO 7064 MOD 11-2 check character of the first 17."""
    expected = mod11_2(value[:17])
    if value[17] != expected:
        raise CheckCharacterError(
            f"校验位错误：按前 17 位计算，最后一位应为 {expected}，请核对号码是否输错",
            f"Wrong check character: from the first 17 digits the last one should be "
            f"{expected}; please check the number for typos",
        )


def require_division(code: str, start: int = 0) -> str:
    """Refuse a 6-digit code that is not (and never was) a GB/T 2260 division; return its name."""
    if code[:2] not in divisions.PROVINCES:
        raise DivisionCodeError(
            f"地址码的省级代码（{span(start, start + 2)}）{code[:2]} 不存在",
            f"The province code ({span_en(start, start + 2)}) {code[:2]} does not exist",
        )
    if not divisions.is_known(code):
        raise DivisionCodeError(
            f"地址码（{span(start, start + 6)}）{code} 不是有效的行政区划代码",
            f"The division code ({span_en(start, start + 6)}) {code} is not a known "
            f"administrative division",
        )
    return divisions.region_name(code) or code
