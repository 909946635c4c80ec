"""Typed synthetic records and the lookups the simulated authorities need.

Check characters are computed, never typed: GB 11643-1999 (ISO 7064 MOD 11-2) for document
numbers and the Luhn digit for bank cards.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.people import PEOPLE

_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]


def mod11_2_check(base17: str) -> str:
    """The 18th character of a GB 11643 number (ISO 7064 MOD 11-2)."""
    if len(base17) != 17 or not base17.isdigit():
        raise ValueError("need 17 digits")
    total = sum(int(d) * w for d, w in zip(base17, _WEIGHTS, strict=True))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def luhn_check(partial: str) -> str:
    """The Luhn digit to append to ``partial`` (ISO/IEC 7812-1 Annex B)."""
    total = 0
    for i, d in enumerate(reversed(partial)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


def same_name(a: str, b: str) -> bool:
    """Compare names the way the registries do: trimmed; Latin names case- and space-blind."""
    norm_a, norm_b = " ".join(a.split()), " ".join(b.split())
    return norm_a.casefold() == norm_b.casefold()


@dataclass(frozen=True)
class Person:
    """One synthetic person and everything the authorities know about them."""

    key: str
    name: str
    document_type: str
    document_number: str
    phone: str
    carrier_phones: tuple[str, ...]
    bank_card: str | None
    bank_phone: str
    social_security_card: str
    provident_fund_account: str
    licence_file: str | None
    status: str = "active"  # active | deceased | cancelled
    face: str = "match"  # match | no_match | spoof
    sim_mode: str = "ok"  # ok | slow | down
    acr: str = "loa-3"
    note: str = ""
    photo_ref: str = field(default_factory=lambda: "PH-" + secrets.token_hex(10))

    @property
    def subject(self) -> str:
        """Stable subject at the simulated trusted platform."""
        return f"tp-{self.key.lower()}"


def build_person(index: int, raw: dict[str, Any]) -> Person:
    """Turn one seed entry into a `Person`, computing check characters."""
    number = raw["base"] + mod11_2_check(raw["base"])
    card_base = f"62170000000000{index:04d}"
    return Person(
        key=raw["key"], name=raw["name"],
        document_type=raw.get("document_type", "resident_id"),
        document_number=number, phone=raw["phone"],
        carrier_phones=tuple(raw.get("carrier_phones", [raw["phone"]])),
        bank_card=card_base + luhn_check(card_base) if raw.get("bank", True) else None,
        bank_phone=raw.get("bank_phone", raw["phone"]),
        social_security_card=f"A{10000000 + index}",
        provident_fund_account=f"{310000000000 + index * 13}",
        licence_file=f"{110000000000 + index * 7}" if raw.get("licence", True) else None,
        status=raw.get("status", "active"), face=raw.get("face", "match"),
        sim_mode=raw.get("sim_mode", "ok"), acr=raw.get("acr", "loa-3"),
        note=raw.get("note", ""))


class Records:
    """The seeded people, indexed by document number and registry photo reference."""

    def __init__(self, people: Iterable[Person]) -> None:
        self.people: list[Person] = list(people)
        self._by_number = {p.document_number: p for p in self.people}
        self._by_photo = {p.photo_ref: p for p in self.people}
        if len(self._by_number) != len(self.people):
            raise ValueError("duplicate document numbers in seed")

    def by_number(self, number: object) -> Person | None:
        if not isinstance(number, str):
            return None
        return self._by_number.get(number.strip().upper())

    def by_photo_ref(self, ref: object) -> Person | None:
        return self._by_photo.get(ref) if isinstance(ref, str) else None

    def by_login_hint(self, hint: str) -> Person | None:
        """Find a trusted-platform identity by subject, key, document number or phone."""
        hint = hint.strip()
        for p in self.people:
            if hint.casefold() in (p.subject, p.key.casefold()) or hint in (
                    p.document_number, p.phone):
                return p
        return None


def load_records(seed: Sequence[dict[str, Any]] | str | Path | None = None) -> Records:
    """Build records from the bundled seed, a list of seed entries, or a JSON file of them."""
    if seed is None:
        raw = PEOPLE
    elif isinstance(seed, str | Path):
        raw = json.loads(Path(seed).read_text(encoding="utf-8"))
    else:
        raw = list(seed)
    return Records(build_person(i + 1, entry) for i, entry in enumerate(raw))
