"""Region codes (GB/T 2260 administrative division codes) and delegation (R-62).

A code has six digits: province ``PP0000``, prefecture-level city ``PPCC00``, county
``PPCCDD``. ``000000`` is not a GB/T 2260 code; here it stands for the whole country, the
national node's region. A region is *within* another when the other's non-zero prefix
matches: 350200 (Xiamen) is within 350000 (Fujian); 440300 (Shenzhen) is not.
"""

from __future__ import annotations

import re

NATIONAL = "000000"
_CODE = re.compile(r"^\d{6}$")
LEVELS = ("national", "province", "city")


class RegionError(ValueError):
    """A region code that is malformed or outside the delegated area."""


def check_code(code: object) -> str:
    """Return ``code`` if it is a well-formed six-digit division code, else raise."""
    if not isinstance(code, str) or not _CODE.match(code):
        raise RegionError("region must be a six-digit GB/T 2260 division code")
    if code != NATIONAL and code[:2] == "00":
        raise RegionError("region has no province part")
    return code


def within(code: str, scope: str) -> bool:
    """True when division ``code`` lies inside division ``scope`` (or equals it)."""
    if scope == NATIONAL:
        return True
    if code == NATIONAL:
        return False
    if scope.endswith("0000"):
        return code[:2] == scope[:2]
    if scope.endswith("00"):
        return code[:4] == scope[:4]
    return code == scope


def within_any(code: str, scopes: list[str]) -> bool:
    return any(within(code, s) for s in scopes)


def level_of(code: str) -> str:
    """The node level a region code naturally belongs to."""
    if code == NATIONAL:
        return "national"
    return "province" if code.endswith("0000") else "city"


def child_level(parent_level: str) -> str | None:
    """The level of a node's children: national → province → city → none."""
    index = LEVELS.index(parent_level)
    return LEVELS[index + 1] if index + 1 < len(LEVELS) else None
