"""The single entry points: :func:`parse` any document number, :func:`mask` it for display."""

from __future__ import annotations

import datetime as dt

from idp.crypto import mask_id_number
from idp.realname.documents.errors import UnknownDocumentTypeError
from idp.realname.documents.foreign import parse_foreign_permanent
from idp.realname.documents.model import DocumentType, ParsedDocument
from idp.realname.documents.normalise import normalise
from idp.realname.documents.permits import parse_hkmo_permit, parse_passport, parse_tw_permit
from idp.realname.documents.resident import parse_residence_permit, parse_resident_id
from idp.realname.documents.uscc import parse_uscc


def document_type(id_type: object) -> DocumentType:
    """Turn an ``IdType`` value (or ``"uscc"``) into a :class:`DocumentType`, or refuse it."""
    try:
        return DocumentType(str(id_type))
    except ValueError:
        raise UnknownDocumentTypeError("不支持的证件类型", "Unsupported document type") from None


def parse(
    id_type: object,
    raw: object,
    *,
    country: object = None,
    today: dt.date | None = None,
) -> ParsedDocument:
    """Normalise and validate ``raw`` as a document of ``id_type`` (R-03, R-10, R-20).

    ``country`` is the issuing country of a passport (ISO 3166-1 alpha-3) and is ignored
    otherwise; ``today`` (default: the local date) bounds birth dates. Raises a
    :class:`~idp.realname.documents.errors.DocumentError` naming the wrong part.
    """
    kind = document_type(id_type)
    norm = normalise(raw)
    today = today or dt.date.today()
    match kind:
        case DocumentType.RESIDENT_ID:
            return parse_resident_id(norm, today)
        case DocumentType.HKMO_RESIDENCE | DocumentType.TW_RESIDENCE:
            return parse_residence_permit(kind, norm, today)
        case DocumentType.FOREIGN_PERMANENT:
            return parse_foreign_permanent(norm, today)
        case DocumentType.HKMO_PERMIT:
            return parse_hkmo_permit(norm)
        case DocumentType.TW_PERMIT:
            return parse_tw_permit(norm)
        case DocumentType.PASSPORT:
            return parse_passport(norm, country)
        case DocumentType.USCC:
            return parse_uscc(norm)
    raise AssertionError(kind)  # pragma: no cover - the match is exhaustive


def mask(document_type: object, number: str) -> str:
    """Hide a number for display, birth-date digits always included (R-11).

    18-character numbers keep their first and last 4 (``3502**********1234``, as
    :func:`idp.crypto.mask_id_number`). Forms where the last 4 would show birth-date digits
    keep less: a legacy 15-digit ID keeps the first 4 and last 3 (its birth date ends at
    position 12), the 2004 permanent residence number keeps only the nationality letters and
    the last 2. Never raises: anything unrecognised gets the generic masking.
    """
    number = number or ""
    kind = str(document_type)
    if kind == DocumentType.RESIDENT_ID and len(number) == 15:
        return number[:4] + "*" * 8 + number[-3:]
    if kind == DocumentType.FOREIGN_PERMANENT and len(number) == 15:
        return number[:3] + "*" * 10 + number[-2:]
    return mask_id_number(number)
