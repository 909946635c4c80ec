"""The card-reader agent's contract: `idp.accounts.counter_card.parse_card` (R-11)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest

from idp.accounts.counter_card import LONG_TERM, MAX_PHOTO_BYTES, CardError, parse_card

TODAY = dt.date(2024, 6, 1)
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 64).decode()
# P04 of the simulator's seeded people (docs/authorities.md).
CARD: dict[str, Any] = {
    "name": "刘洋", "sex": "男", "ethnicity": "汉", "birth_date": "1988-06-30",
    "address": "福建省厦门市思明区湖滨南路 1 号", "id_number": "350203198806300157",
    "issuing_authority": "厦门市公安局思明分局", "valid_from": "2016-07-01",
    "valid_until": "2036-07-01", "photo": JPEG,
}


def test_a_good_read_is_normalised() -> None:
    card = parse_card({**CARD, "birth_date": "19880630", "valid_until": LONG_TERM,
                       "id_number": " 3502 0319 8806 3001 57 ", "sex": "male"},
                      source="reader", today=TODAY)
    assert card.number == "350203198806300157"
    assert (card.id_type, card.sex, card.birth_date) == ("resident_id", "male", "1988-06-30")
    assert card.valid_until == LONG_TERM and card.photo == JPEG and card.source == "reader"


def test_a_manual_entry_needs_no_photo() -> None:
    card = parse_card({k: v for k, v in CARD.items() if k != "photo"}, source="manual",
                      today=TODAY)
    assert card.photo == "" and card.source == "manual"


def test_a_residence_permit_is_accepted() -> None:
    card = parse_card({**CARD, "id_type": "hkmo_residence", "name": "陈家明",
                       "id_number": "810000198402290117", "birth_date": "1984-02-29",
                       "ethnicity": ""}, source="reader", today=TODAY)
    assert card.id_type == "hkmo_residence" and card.registry_type.value == \
        "hk_macao_residence_permit"


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"name": ""}, "name", "missing"),
    ({"name": 7}, "name", "type"),
    ({"name": "刘" * 65}, "name", "too_long"),
    ({"name": "刘\x00洋"}, "name", "characters"),
    ({"id_type": "passport"}, "id_type", "unsupported"),
    ({"id_number": "350203198806300158"}, "id_number", "check_character"),
    ({"id_number": "35020319880630015"}, "id_number", "length"),
    ({"birth_date": "1988-06-31"}, "birth_date", "date"),
    ({"birth_date": "1988-07-30"}, "birth_date", "mismatch"),
    ({"sex": "女"}, "sex", "mismatch"),
    ({"sex": "x"}, "sex", "format"),
    ({"valid_until": "2024-05-31"}, "valid_until", "expired"),
    ({"valid_until": "someday"}, "valid_until", "date"),
    ({"valid_from": "2024-06-02"}, "valid_from", "not_yet_valid"),
    ({"valid_from": "2016-07-01", "valid_until": "2015-01-01"}, "valid_until", "expired"),
    ({"photo": "not base64!"}, "photo", "base64"),
    ({"photo": base64.b64encode(b"\x89PNG....").decode()}, "photo", "not_jpeg"),
    ({"photo": "A" * (MAX_PHOTO_BYTES * 2)}, "photo", "too_long"),
    ({"photo": 12}, "photo", "type"),
    ({"issuing_authority": None}, "issuing_authority", "missing"),
])
def test_bad_reads_name_the_field(change: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(CardError) as info:
        parse_card({**CARD, **change}, source="reader", today=TODAY)
    assert info.value.fields.get(field) == code, info.value.errors


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(CardError) as info:
        parse_card({"name": "", "sex": "?", "id_number": "123"}, source="manual", today=TODAY)
    fields = info.value.fields
    assert {"name", "sex", "id_number", "birth_date", "address", "valid_from",
            "valid_until"} <= set(fields)


def test_the_error_never_carries_the_number() -> None:
    with pytest.raises(CardError) as info:
        parse_card({**CARD, "id_number": "350203198806300158"}, source="reader", today=TODAY)
    assert "350203" not in str(info.value) and "350203" not in repr(info.value.errors)
