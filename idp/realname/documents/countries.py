"""ISO 3166-1 country codes (alpha-3 and numeric) for nationality and issuing country."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class Country:
    alpha3: str
    numeric: str
    name_zh: str
    name_en: str


@cache
def _countries() -> tuple[Country, ...]:
    text = resources.files("idp.realname").joinpath("data/iso3166.tsv").read_text("utf-8")
    lines = (line for line in text.splitlines() if line and not line.startswith("#"))
    return tuple(Country(*line.split("\t")) for line in lines)


@cache
def _by_alpha3() -> dict[str, Country]:
    return {c.alpha3: c for c in _countries()}


@cache
def _by_numeric() -> dict[str, Country]:
    return {c.numeric: c for c in _countries()}


def by_alpha3(code: str) -> Country | None:
    """Look a country up by its ISO 3166-1 alpha-3 code (``"KAZ"``)."""
    return _by_alpha3().get(code)


def by_numeric(code: str) -> Country | None:
    """Look a country up by its ISO 3166-1 numeric code (``"398"``)."""
    return _by_numeric().get(code)
