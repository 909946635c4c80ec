"""The ID card read at a counter: the card-reader agent's JSON contract, checked (R-11, R-40).

A clerk's card-reader agent (or the console's manual-entry form, the fallback) hands over
the fields printed on and stored in the chip of a second-generation resident ID card
(GB 19347 face / chip fields) or of a Hong Kong/Macao/Taiwan residence permit:

    id_type            "resident_id" (default) | "hkmo_residence" | "tw_residence"
    name               as on the card
    sex                "男"/"女" or "male"/"female"
    ethnicity          e.g. "汉" (resident ID only; may be empty on permits)
    birth_date         "YYYY-MM-DD" or "YYYYMMDD"
    address            the registered address on the card
    id_number          the document number
    issuing_authority  e.g. "厦门市公安局思明分局"
    valid_from         "YYYY-MM-DD" or "YYYYMMDD"
    valid_until        same, or "长期" (long-term)
    photo              base64 of the chip photo as JPEG (agent only; absent for manual entry)

`parse_card` returns a `CardRead` or raises `CardError` listing every wrong field at once.
The number must be valid (``idp.realname.documents.parse``), agree with the birth date and
sex printed on the card, and the card must be in force today (China Standard Time).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from idp.accounts.models import IdType
from idp.realname import documents
from idp.realname.registration import MAX_NAME
from idp.realname.sources import DocumentType

CST = dt.timezone(dt.timedelta(hours=8), "CST")
LONG_TERM = "长期"
MAX_PHOTO_BYTES = 48 * 1024  # a chip photo is a few kilobytes; a full scan is not wanted
MAX_PHOTO_B64 = (MAX_PHOTO_BYTES * 4) // 3 + 4
JPEG_MAGIC = b"\xff\xd8\xff"

# Cards a counter reader reads that the population registry verifies.
CARD_DOCUMENTS: dict[str, DocumentType] = {
    IdType.RESIDENT_ID.value: DocumentType.RESIDENT_ID,
    IdType.HKMO_RESIDENCE.value: DocumentType.HK_MACAO_RESIDENCE_PERMIT,
    IdType.TW_RESIDENCE.value: DocumentType.TAIWAN_RESIDENCE_PERMIT,
}
SEXES = {"男": "male", "女": "female", "male": "male", "female": "female"}
# field → maximum length of the text (photo is checked apart).
TEXT_FIELDS = {"id_type": 32, "name": MAX_NAME, "sex": 8, "ethnicity": 16, "birth_date": 10,
               "address": 128, "id_number": 64, "issuing_authority": 64, "valid_from": 10,
               "valid_until": 10}
OPTIONAL = frozenset({"id_type", "ethnicity", "photo"})


class CardError(ValueError):
    """The card read cannot be accepted; ``errors`` is ``[{"field", "code"}]``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("card_invalid")
        self.errors = errors

    @property
    def fields(self) -> dict[str, str]:
        return {e["field"]: e["code"] for e in self.errors}


@dataclass(frozen=True)
class CardRead:
    """A checked card read; ``number`` is normalised, dates are ISO strings."""

    id_type: str
    name: str
    sex: str
    ethnicity: str
    birth_date: str
    address: str
    number: str
    issuing_authority: str
    valid_from: str
    valid_until: str  # ISO date or LONG_TERM
    photo: str  # base64 JPEG, "" for manual entry
    source: str  # "reader" | "manual"

    @property
    def registry_type(self) -> DocumentType:
        return CARD_DOCUMENTS[self.id_type]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(raw: Mapping[str, Any], name: str, errors: list[dict[str, str]]) -> str:
    value = raw.get(name)
    if value is None or value == "":
        if name not in OPTIONAL:
            errors.append({"field": name, "code": "missing"})
        return ""
    if not isinstance(value, str):
        errors.append({"field": name, "code": "type"})
        return ""
    text = " ".join(unicodedata.normalize("NFKC", value).split())
    if len(text) > TEXT_FIELDS[name]:
        errors.append({"field": name, "code": "too_long"})
        return ""
    if any(unicodedata.category(c)[0] == "C" for c in text):
        errors.append({"field": name, "code": "characters"})
        return ""
    return text


def parse_date(text: str) -> dt.date | None:
    """``2024-05-01`` or ``20240501`` → a date; anything else → None."""
    digits = text.replace("-", "").replace(".", "")
    if len(digits) != 8 or not digits.isascii() or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def _photo(raw: Mapping[str, Any], errors: list[dict[str, str]]) -> str:
    value = raw.get("photo")
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or len(value) > MAX_PHOTO_B64:
        errors.append({"field": "photo", "code": "too_long" if isinstance(value, str)
                       else "type"})
        return ""
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        errors.append({"field": "photo", "code": "base64"})
        return ""
    if not data.startswith(JPEG_MAGIC):
        errors.append({"field": "photo", "code": "not_jpeg"})
        return ""
    return base64.b64encode(data).decode("ascii")


def _number(id_type: str, number: str, errors: list[dict[str, str]]
            ) -> documents.ParsedDocument | None:
    if id_type not in CARD_DOCUMENTS:
        errors.append({"field": "id_type", "code": "unsupported"})
        return None
    if not number:
        return None
    try:
        return documents.parse(id_type, number)
    except documents.DocumentError as exc:
        errors.append({"field": "id_number", "code": exc.code})
        return None


def _validity(fields: dict[str, str], today: dt.date, errors: list[dict[str, str]]) -> None:
    start = parse_date(fields["valid_from"]) if fields["valid_from"] else None
    if fields["valid_from"] and start is None:
        errors.append({"field": "valid_from", "code": "date"})
    elif start is not None and start > today:
        errors.append({"field": "valid_from", "code": "not_yet_valid"})
    if fields["valid_until"] in ("", LONG_TERM):
        return
    end = parse_date(fields["valid_until"])
    if end is None:
        errors.append({"field": "valid_until", "code": "date"})
    elif end < today:
        errors.append({"field": "valid_until", "code": "expired"})
    elif start is not None and end < start:
        errors.append({"field": "valid_until", "code": "before_valid_from"})


def _consistent(parsed: documents.ParsedDocument | None, birth: dt.date | None, sex: str,
                errors: list[dict[str, str]]) -> None:
    """The number encodes birth date and sex (GB 11643 §6): the card must agree with it."""
    if parsed is None:
        return
    if birth is not None and parsed.birth_date is not None and birth != parsed.birth_date:
        errors.append({"field": "birth_date", "code": "mismatch"})
    if sex and parsed.sex is not None and sex != parsed.sex.value:
        errors.append({"field": "sex", "code": "mismatch"})


def parse_card(raw: Mapping[str, Any], *, source: str, today: dt.date | None = None
               ) -> CardRead:
    """Check a card read (agent JSON or manual form); every problem is reported at once."""
    if not isinstance(raw, Mapping):
        raise CardError([{"field": "", "code": "type"}])
    errors: list[dict[str, str]] = []
    fields = {name: _text(raw, name, errors) for name in TEXT_FIELDS}
    id_type = fields["id_type"] or IdType.RESIDENT_ID.value
    sex = SEXES.get(fields["sex"].lower(), "") if fields["sex"] else ""
    if fields["sex"] and not sex:
        errors.append({"field": "sex", "code": "format"})
    birth = parse_date(fields["birth_date"]) if fields["birth_date"] else None
    if fields["birth_date"] and birth is None:
        errors.append({"field": "birth_date", "code": "date"})
    parsed = _number(id_type, fields["id_number"], errors)
    _consistent(parsed, birth, sex, errors)
    _validity(fields, today or dt.datetime.now(CST).date(), errors)
    photo = _photo(raw, errors)
    if errors:
        raise CardError(errors)
    assert parsed is not None and birth is not None
    until = fields["valid_until"]
    return CardRead(
        id_type=id_type, name=fields["name"], sex=sex, ethnicity=fields["ethnicity"],
        birth_date=birth.isoformat(), address=fields["address"], number=parsed.number,
        issuing_authority=fields["issuing_authority"],
        valid_from=parse_date(fields["valid_from"]).isoformat(),  # type: ignore[union-attr]
        valid_until=until if until == LONG_TERM else parse_date(until).isoformat(),  # type: ignore[union-attr]
        photo=photo, source=source)
