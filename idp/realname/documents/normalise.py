"""Normalise a typed or pasted document number before it is parsed."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from idp.realname.documents.errors import CharsetError, EmptyError, LengthError

# Far longer than any document number (a USCC or an ID number is 18): refuse pasted essays
# before any per-character work, and never echo them back.
MAX_RAW_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Normalised:
    """The cleaned value and what was changed: ``"whitespace"``, ``"width"``, ``"case"``."""

    value: str
    changes: frozenset[str]


def normalise(raw: object) -> Normalised:
    """Strip spaces, fold full-width forms (NFKC) and upper-case, reporting each change.

    ``None``, an empty string and blanks raise :class:`EmptyError`; anything that is not text
    raises :class:`CharsetError`; input longer than :data:`MAX_RAW_LENGTH` characters raises
    :class:`LengthError` without being inspected further.
    """
    if raw is None:
        raise EmptyError("请填写证件号码", "Please enter the document number")
    if not isinstance(raw, str):
        raise CharsetError("证件号码必须是文字", "The document number must be text")
    if len(raw) > MAX_RAW_LENGTH:
        raise LengthError(
            f"证件号码过长（超过 {MAX_RAW_LENGTH} 个字符）",
            f"The document number is too long (more than {MAX_RAW_LENGTH} characters)",
        )
    changes: set[str] = set()
    # NFKC first: it turns the ideographic space U+3000 into a plain space, removed below.
    value = unicodedata.normalize("NFKC", raw)
    if value != raw:
        changes.add("width")
    stripped = "".join(value.split())
    if stripped != value:
        changes.add("whitespace")
    upper = stripped.upper()
    if upper != stripped:
        changes.add("case")
    if not upper:
        raise EmptyError("请填写证件号码", "Please enter the document number")
    return Normalised(upper, frozenset(changes))
