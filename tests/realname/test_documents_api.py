"""The shared parts: the parse entry point, normalisation, errors and masking (R-11)."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.accounts.models import IdType
from idp.realname.documents import (
    DocumentError,
    DocumentType,
    gb11714,
    mask,
    mod11_2,
    normalise,
    parse,
    uscc_mod31,
)

TODAY = dt.date(2025, 6, 1)


def test_every_account_id_type_is_a_document_type() -> None:
    assert {t.value for t in IdType} | {"uscc"} == {t.value for t in DocumentType}


@pytest.mark.parametrize("id_type", [IdType.RESIDENT_ID, "resident_id", DocumentType.RESIDENT_ID])
def test_parse_accepts_enum_or_string(id_type: object) -> None:
    doc = parse(id_type, "11010519491231002X", today=TODAY)
    assert doc.document_type is DocumentType.RESIDENT_ID


@pytest.mark.parametrize("id_type", ["driving_licence", "", None, "RESIDENT_ID", 3])
def test_parse_refuses_unknown_type(id_type: object) -> None:
    with pytest.raises(DocumentError) as info:
        parse(id_type, "11010519491231002X")
    assert info.value.code == "document_type"
    assert info.value.message == "不支持的证件类型"


@pytest.mark.parametrize(
    ("raw", "value", "changes"),
    [
        ("11010519491231002X", "11010519491231002X", set()),
        ("11010519491231002x", "11010519491231002X", {"case"}),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X", {"width"}),
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X", {"width", "case"}),
        (" 1101 0519 \t", "11010519", {"whitespace"}),
        ("\u30001101", "1101", {"width", "whitespace"}),
    ],
)
def test_normalise_reports_what_changed(raw: str, value: str, changes: set[str]) -> None:
    result = normalise(raw)
    assert (result.value, result.changes) == (value, changes)


@pytest.mark.parametrize(
    ("body", "function", "message"),
    [
        ("1101051949123100", mod11_2, "17"),
        ("1101051949123100A", mod11_2, "17"),
        ("M000100", gb11714, "8"),
        ("M00010-Y", gb11714, "8"),
        ("91350100M000100Y", uscc_mod31, "17"),
        ("91350100M000I00Y4", uscc_mod31, "17"),
    ],
)
def test_check_functions_refuse_bad_bodies(body: str, function, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        function(body)


@pytest.mark.parametrize(
    ("id_type", "raw"),
    [
        ("resident_id", "11010519490230002X"),
        ("resident_id", "990105194912310020"),
        ("uscc", "91350100M000100Y44"),
        ("foreign_permanent", "911398199002310021"),
    ],
)
def test_error_text_is_safe_to_log(id_type: str, raw: str) -> None:
    with pytest.raises(DocumentError) as info:
        parse(id_type, raw, today=TODAY)
    err = info.value
    # str()/repr() are what a log line gets: the machine code only, never the number.
    assert str(err) == err.code
    assert raw not in repr(err) and raw[6:14] not in repr(err)
    assert err.to_dict() == {"code": err.code, "message": err.message, "messages": err.messages}
    assert any("\u4e00" <= c <= "\u9fff" for c in err.messages["zh"])
    assert err.messages["en"].isascii() or "–" in err.messages["en"]


@pytest.mark.parametrize(
    ("id_type", "number", "masked", "birth"),
    [
        pytest.param("resident_id", "350203199001011234", "3502**********1234", slice(6, 14),
                     id="resident-18"),
        pytest.param("resident_id", "350203900101123", "3502********123", slice(6, 12),
                     id="resident-15"),
        pytest.param("hkmo_residence", "810000198511200471", "8100**********0471",
                     slice(6, 14), id="hk-residence"),
        pytest.param("tw_residence", "830000198511200471", "8300**********0471",
                     slice(6, 14), id="tw-residence"),
        pytest.param("foreign_permanent", "911398199012310021", "9113**********0021",
                     slice(6, 14), id="foreign-2023"),
        pytest.param("foreign_permanent", "KAZ110090123105", "KAZ**********05", slice(3, 13),
                     id="foreign-2004"),
        pytest.param("hkmo_permit", "H12345678", "H1*****78", None, id="hkmo-permit"),
        pytest.param("tw_permit", "12345678", "12****78", None, id="tw-permit"),
        pytest.param("passport", "E12345678", "E1*****78", None, id="passport"),
        pytest.param("uscc", "91350100M000100Y43", "9135**********0Y43", None, id="uscc"),
    ],
)  # fmt: skip
def test_mask_hides_birth_date_digits(id_type, number, masked, birth) -> None:
    assert mask(id_type, number) == masked
    assert len(masked) == len(number)
    if birth is not None:
        assert set(masked[birth]) == {"*"}


@pytest.mark.parametrize("number", ["", "1", "12", "x" * 40])
def test_mask_never_raises(number: str) -> None:
    out = mask("unknown", number)
    assert len(out) == len(number)
    assert out.count("*") >= len(number) // 2


def test_parsed_number_masks_consistently_with_crypto() -> None:
    from idp.crypto import mask_id_number

    doc = parse("resident_id", "110105491231002", today=TODAY)
    assert mask(doc.document_type, doc.number) == mask_id_number(doc.number)


def test_parsed_document_is_immutable() -> None:
    doc = parse("hkmo_permit", "H1234567801")
    with pytest.raises(TypeError):
        doc.details["renewal_count"] = "02"  # type: ignore[index]
    with pytest.raises(AttributeError):
        doc.number = "H00000000"  # type: ignore[misc]
