"""The seeded records obey the real number rules and cover every failure case."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.records import load_records, luhn_check, mod11_2_check

PEOPLE = load_records().people
DOCS = Path(__file__).resolve().parents[2] / "docs" / "authorities.md"


def gb11643_valid(number: str) -> bool:
    """Independent check: with X = 10, sum(a_i * 2^(18-i)) ≡ 1 (mod 11) (ISO 7064 MOD 11-2)."""
    values = [10 if c == "X" else int(c) for c in number]
    return sum(v * pow(2, 17 - i, 11) for i, v in enumerate(values)) % 11 == 1


def luhn_valid(number: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(number)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


@pytest.mark.parametrize(("base", "check"), [
    ("11010519491231002", "X"),  # the example in GB 11643-1999
    ("44052418800101001", "4"),
    ("11010119850312001", "7"),
])
def test_mod11_2_check_matches_known_numbers(base, check):
    assert mod11_2_check(base) == check


@pytest.mark.parametrize("bad", ["1101011985031200", "1101011985031200A", ""])
def test_mod11_2_check_refuses_malformed_bases(bad):
    with pytest.raises(ValueError):
        mod11_2_check(bad)


def test_luhn_check_matches_known_card():
    assert luhn_check("7992739871") == "3"  # the textbook Luhn example


def test_seed_has_at_least_twenty_people_with_valid_numbers():
    assert len(PEOPLE) >= 20
    assert all(len(p.document_number) == 18 and gb11643_valid(p.document_number)
               for p in PEOPLE)
    assert all(luhn_valid(p.bank_card) for p in PEOPLE if p.bank_card)
    assert len({p.document_number for p in PEOPLE}) == len(PEOPLE)


@pytest.mark.parametrize(("label", "predicate"), [
    ("deceased", lambda p: p.status == "deceased"),
    ("cancelled", lambda p: p.status == "cancelled"),
    ("phone registered to another", lambda p: p.phone not in p.carrier_phones),
    ("bank phone differs", lambda p: p.bank_card and p.bank_phone != p.phone),
    ("hong kong permit", lambda p: p.document_number.startswith("810000")),
    ("macao permit", lambda p: p.document_number.startswith("820000")),
    ("taiwan permit", lambda p: p.document_number.startswith("830000")),
    ("foreign permanent resident", lambda p: p.document_type == "foreign_permanent_residence"
     and p.document_number.startswith("9")),
    ("slow", lambda p: p.sim_mode == "slow"),
    ("down", lambda p: p.sim_mode == "down"),
    ("face mismatch", lambda p: p.face == "no_match"),
    ("liveness failure", lambda p: p.face == "spoof"),
])
def test_seed_covers_case(label, predicate):
    assert any(predicate(p) for p in PEOPLE), label


def test_docs_table_lists_every_seeded_person():
    text = DOCS.read_text(encoding="utf-8")
    missing = [p.key for p in PEOPLE if p.document_number not in text or p.name not in text]
    assert missing == []


def test_load_records_refuses_duplicate_numbers():
    entry = {"key": "X1", "name": "甲", "base": "11010119850312001", "phone": "13900000000"}
    with pytest.raises(ValueError, match="duplicate"):
        load_records([entry, dict(entry, key="X2")])
