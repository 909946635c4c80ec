"""Read the numbered steps of docs/integration/zh-CN.md: fenced blocks with ``step=N``."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "integration" / "zh-CN.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Step:
    number: int
    language: str
    title: str | None
    code: str


def steps(path: Path = GUIDE) -> dict[int, Step]:
    """Every block whose info string carries ``step=N`` (``title="app.py"`` optional)."""
    found: dict[int, Step] = {}
    for language, info, code in FENCE.findall(path.read_text(encoding="utf-8")):
        attrs = dict(part.split("=", 1) for part in shlex.split(info) if "=" in part)
        if "step" in attrs:
            number = int(attrs["step"])
            assert number not in found, f"step {number} appears twice in {path.name}"
            found[number] = Step(number, language, attrs.get("title"), code)
    return found
