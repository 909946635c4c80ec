"""GB/T 2260 administrative division codes, as used in ID numbers and credit codes.

The data file ``idp/realname/data/gb2260.tsv`` is the union of the codes published by the
Ministry of Civil Affairs from 1980 to 2025 (see ``data/regenerate.py`` for its sources).
Abolished codes are kept on purpose: an ID number keeps the code in force when it was issued
(GB 11643-1999 §6.2), so a person from 上海市卢湾区 (310103, abolished 2011) still holds
310103…. Limits: codes abolished before 1980 and codes created after 2025-12-31 are unknown
until the file is regenerated.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

# GB/T 2260 province-level codes: 31 mainland provinces, Taiwan, Hong Kong, Macao. 83 is not a
# province: GB 11643 residence permits for Taiwan residents use 830000 (see residence.py).
PROVINCES: frozenset[str] = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)


@cache
def _codes() -> dict[str, str]:
    text = resources.files("idp.realname").joinpath("data/gb2260.tsv").read_text("utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {code: name for code, name in rows}


def is_known(code: str) -> bool:
    """Whether a 6-digit code is (or was) a GB/T 2260 division code."""
    return code in _codes()


def region_name(code: str) -> str | None:
    """Return the full name (``福建省厦门市思明区``) of the longest known prefix of ``code``."""
    codes = _codes()
    parts: list[str] = []
    for prefix in (code[:2] + "0000", code[:4] + "00", code):
        name = codes.get(prefix)
        # Municipalities repeat their name at prefecture level; "市辖区" adds nothing.
        if name and name != "市辖区" and name not in parts:
            parts.append(name)
    return "".join(parts) or None
