"""Synthetic national directory entries for bench/directory.py (R-62, issue 6 item 6).

Entry ``i`` is the blind index of a synthetic resident ID under a fixed stand-in for the
federation directory key — computed exactly as ``idp.federation.directory.directory_index``
does — and a home city node chosen by province population, so any entry can be recomputed
(and a lookup's answer checked) without storing what was loaded.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac

# GB/T 2260 province code, 2020 census population (millions), prefecture-level nodes.
PROVINCES = [
    ("11", 21.9, 1), ("12", 13.9, 1), ("13", 74.6, 11), ("14", 34.9, 11), ("15", 24.0, 12),
    ("21", 42.6, 14), ("22", 24.1, 9), ("23", 31.9, 13), ("31", 24.9, 1), ("32", 84.7, 13),
    ("33", 64.6, 11), ("34", 61.0, 16), ("35", 41.5, 9), ("36", 45.2, 11), ("37", 101.5, 16),
    ("41", 99.4, 17), ("42", 57.8, 13), ("43", 66.4, 14), ("44", 126.0, 21), ("45", 50.1, 14),
    ("46", 10.1, 4), ("50", 32.1, 1), ("51", 83.7, 21), ("52", 38.6, 9), ("53", 47.2, 16),
    ("54", 3.6, 7), ("61", 39.5, 10), ("62", 25.0, 14), ("63", 5.9, 8), ("64", 7.2, 5),
    ("65", 25.9, 14),
]


def node_id(code: str) -> str:
    return f"https://id.{code}.gov.cn"


class Synthetic:
    """Deterministic entries: entry ``i`` can be recomputed (index, home, via) at any time."""

    def __init__(self, seed: bytes = b"directory-bench") -> None:
        self.key = hashlib.sha256(seed).digest()  # the federation directory key stand-in
        # Same derivation as idp.federation.directory.directory_index (checked by the test).
        self._subkey = hmac.digest(self.key, b"idp federation directory v1", "sha256")
        self.nodes: list[tuple[str, str]] = []  # (home city node, via province node)
        cumulative: list[int] = []
        total = 0
        for code, population, cities in PROVINCES:
            for c in range(1, cities + 1):
                self.nodes.append((node_id(f"{code}{c:02d}00"), node_id(f"{code}0000")))
                total += round(population * 1_000_000 / cities)
                cumulative.append(total)
        self._cumulative, self._total = cumulative, total

    @staticmethod
    def number(i: int) -> str:
        return f"{i:018d}"

    def digest(self, i: int) -> bytes:
        return hmac.digest(self._subkey, b"resident_id\x00%018d" % i, "sha256")

    def index(self, i: int) -> str:
        return self.digest(i).hex()

    def node_of(self, digest: bytes) -> int:
        # The index is uniform, so its first bytes pick a node by population weight.
        return bisect.bisect_right(self._cumulative,
                                   int.from_bytes(digest[:6]) * self._total >> 48)

    def home(self, i: int) -> str:
        return self.nodes[self.node_of(self.digest(i))][0]
