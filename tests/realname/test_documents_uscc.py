"""Unified social credit codes (GB 32100-2015) with their GB 11714 organisation codes."""

from __future__ import annotations

import itertools

import pytest

from idp.realname.documents import DocumentError, parse

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def ref_org_check(body: str) -> str:
    """Independent GB 11714-1997 check: weights 3 7 9 10 5 8 4 2, A=10 … Z=35."""
    values = [int(c) if c.isdigit() else ord(c) - 55 for c in body]
    total = sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    return "0123456789X"[(11 - total % 11) % 11]


def ref_check(body: str) -> str:
    """Independent GB 32100-2015 check: the weights are 3**i mod 31."""
    total = sum(CHARSET.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return CHARSET[(31 - total % 31) % 31]


def make(prefix: str, division: str, org_body: str) -> str:
    body = prefix + division + org_body + ref_org_check(org_body)
    return body + ref_check(body)


def find(pred) -> str:
    """The first generated code (over a fixed sequence of org bodies) matching ``pred``."""
    for digits in itertools.product("0123456789", repeat=3):
        code = make("91", "440300", "MA5" + "".join(digits) + "K1")
        if pred(code):
            return code
    raise AssertionError("no such code")


def test_reference_checks_agree_with_a_published_code() -> None:
    # A well-known published code (a Fuzhou enterprise): both checks verified by hand.
    assert ref_org_check("M000100Y") == "4"
    assert ref_check("91350100M000100Y4") == "3"


ORG_X = find(lambda c: c[16] == "X")
ORG_0 = find(lambda c: c[16] == "0")
LAST_0 = find(lambda c: c[17] == "0")


@pytest.mark.parametrize(
    ("raw", "number", "region", "org_type", "changes"),
    [
        pytest.param("91350100M000100Y43", "91350100M000100Y43", "福建省福州市", "企业", set(),
                     id="published"),
        pytest.param("91350100m000100y43", "91350100M000100Y43", "福建省福州市", "企业",
                     {"case"}, id="lower-case"),
        pytest.param("９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y43", "福建省福州市",
                     "企业", {"width"}, id="full-width"),
        pytest.param(make("11", "100000", "00001234"), make("11", "100000", "00001234"), None,
                     "机关", set(), id="national-level"),
        pytest.param(make("53", "310104", "50000001"), make("53", "310104", "50000001"),
                     "上海市徐汇区", "基金会", set(), id="foundation"),
        pytest.param(make("N2", "350203", "MB0000AB"), make("N2", "350203", "MB0000AB"),
                     "福建省厦门市思明区", "村级集体经济组织", set(), id="village-collective"),
        pytest.param(make("92", "320594", "L1234567"), make("92", "320594", "L1234567"),
                     "江苏省苏州市", "个体工商户", set(), id="zone-not-in-gb2260"),
        pytest.param(ORG_X, ORG_X, "广东省深圳市", "企业", set(), id="org-check-X"),
        pytest.param(ORG_0, ORG_0, "广东省深圳市", "企业", set(), id="org-check-0"),
        pytest.param(LAST_0, LAST_0, "广东省深圳市", "企业", set(), id="check-0"),
    ],
)  # fmt: skip
def test_uscc_valid(raw, number, region, org_type, changes) -> None:
    doc = parse("uscc", raw)
    assert (doc.number, doc.region, doc.changes) == (number, region, changes)
    assert doc.details["organisation_type"] == org_type
    assert doc.details["organisation_code"] == number[8:17]
    assert doc.division_code == number[2:8]


GOOD = "91350100M000100Y43"


@pytest.mark.parametrize(
    ("raw", "code", "fragment"),
    [
        pytest.param("91350100M000100Y44", "check_character", "最后一位应为 3", id="wrong-check"),
        pytest.param("91350100M000100Y40", "check_character", "最后一位应为 3", id="check-0"),
        pytest.param("91350100M000100Y4X", "check_character", "最后一位应为 3", id="check-X"),
        pytest.param("91350100M000100Y53", "organisation_code", "第 17 位应为 4",
                     id="org-check-digit"),
        pytest.param("91350100M000100YX3", "organisation_code", "第 17 位应为 4",
                     id="org-check-X"),
        pytest.param("91350100M000010Y43", "organisation_code", "第 9–17 位", id="org-swap"),
        pytest.param("94350100M000100Y43", "registration_type", "94", id="type-94"),
        pytest.param("Y2350100M000100Y43", "registration_type", "Y2", id="type-Y2"),
        pytest.param("B1350100M000100Y43", "registration_type", "B1", id="authority-B"),
        pytest.param("91990100M000100Y43", "division_code", "99", id="province-99"),
        pytest.param("913501A0M000100Y43", "charset", "第 7 位", id="letter-in-division"),
        pytest.param("91350100M000I00Y43", "charset", "“I”", id="I"),
        pytest.param("91350100M000O00Y43", "charset", "“O”", id="O"),
        pytest.param("Z1350100M000100Y43", "charset", "“Z”", id="Z"),
        pytest.param("91350100S000100Y43", "charset", "“S”", id="S"),
        pytest.param("91350100M000100V43", "charset", "“V”", id="V"),
        pytest.param("91350100M000100Y4测", "charset", "“测”", id="chinese"),
        pytest.param(GOOD[:17], "length", "18 位", id="17"),
        pytest.param(GOOD + "0", "length", "18 位", id="19"),
        pytest.param("91350100-M000100Y4", "charset", "“-”", id="hyphen"),
        pytest.param(None, "empty", "请填写", id="none"),
    ],
)  # fmt: skip
def test_uscc_invalid(raw: object, code: str, fragment: str) -> None:
    with pytest.raises(DocumentError) as info:
        parse("uscc", raw)
    assert info.value.code == code
    assert fragment in info.value.message


def test_uscc_every_single_substitution_is_refused() -> None:
    for i in range(18):
        for c in CHARSET:
            if c != GOOD[i]:
                with pytest.raises(DocumentError):
                    parse("uscc", GOOD[:i] + c + GOOD[i + 1 :])
