"""Search and export the operation log (issue 5 item 5, R-53), without Flask.

Filters answer the auditor's questions — who (``actor``), what (``action``), whom
(``target``), when (``since``/``until``, calendar days in China Standard Time), where
(``address``) and ``outcome``. Text filters match a prefix (``staff:`` finds every staff
actor, ``staff:login`` every staff sign-in event), which the column indexes can serve.
"Whom" also takes a document number: it is turned into the person's ``person:<id>`` through
the blind index, so the auditor never needs the database id and the number is never stored.

Pages are keyset-paginated on ``seq`` (newest first), so a page costs the same at any depth.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from admin_ui.timefmt import CST, local_time
from idp.accounts.service import Accounts
from idp.audit.models import AuditRecord

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
EXPORT_MAX_ROWS = 10_000
TEXT_FIELDS = {"actor": 128, "action": 64, "target": 128, "address": 64}
_OUTCOME = re.compile(r"^[a-z_]{1,16}$")
_DOCUMENT = re.compile(r"^[0-9]{15}$|^[0-9]{17}[0-9Xx]$")
CSV_COLUMNS = ("seq", "time", "actor", "action", "target", "outcome", "address", "details",
               "hash")


class FilterError(ValueError):
    """Bad filter values; ``errors`` lists ``{"field", "code"}`` like the JSON API's 422."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("invalid audit filter")
        self.errors = errors


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    target: str = ""
    address: str = ""
    outcome: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    before: int | None = None  # keyset cursor: records with seq < before
    limit: int = PAGE_SIZE

    def as_dict(self) -> dict[str, str]:
        """The filter as query parameters (for links and the audit record of a search)."""
        values = {"actor": self.actor, "action": self.action, "target": self.target,
                  "address": self.address, "outcome": self.outcome,
                  "since": self.since.isoformat() if self.since else "",
                  "until": self.until.isoformat() if self.until else ""}
        return {k: v for k, v in values.items() if v}


@dataclass
class AuditPage:
    rows: list[dict[str, Any]] = field(default_factory=list)  # `row_dict` of each
    next_before: int | None = None  # cursor of the next (older) page, None at the end


def _date(raw: str, name: str, errors: list[dict[str, str]]) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors.append({"field": name, "code": "date"})
        return None


def _int(raw: str, name: str, low: int, high: int, errors: list[dict[str, str]]) -> int | None:
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        errors.append({"field": name, "code": "range"})
        return None
    return int(raw)


def parse_filter(args: Mapping[str, str]) -> AuditFilter:
    """Validate query parameters into a filter; `FilterError` lists every bad field."""
    errors: list[dict[str, str]] = []
    text: dict[str, str] = {}
    for name, max_len in TEXT_FIELDS.items():
        value = (args.get(name) or "").strip()
        if len(value) > max_len:
            errors.append({"field": name, "code": "too_long"})
        elif any(not c.isprintable() for c in value):
            errors.append({"field": name, "code": "characters"})
        text[name] = value
    outcome = (args.get("outcome") or "").strip()
    if outcome and not _OUTCOME.match(outcome):
        errors.append({"field": "outcome", "code": "format"})
    since = _date((args.get("since") or "").strip(), "since", errors)
    until = _date((args.get("until") or "").strip(), "until", errors)
    if since and until and since > until:
        errors.append({"field": "until", "code": "before_since"})
    before = _int((args.get("before") or "").strip(), "before", 1, 2**62, errors)
    limit = _int((args.get("limit") or "").strip(), "limit", 1, MAX_PAGE_SIZE, errors)
    if errors:
        raise FilterError(errors)
    return AuditFilter(since=since, until=until, before=before, limit=limit or PAGE_SIZE,
                       outcome=outcome, **text)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=CST).astimezone(dt.UTC)


def resolve_target(session: Session, accounts: Accounts, target: str) -> str:
    """A document number typed as "whom" becomes ``person:<id>`` (or a target nobody has)."""
    if not _DOCUMENT.match(target):
        return target
    person = accounts.by_document(target)
    return f"person:{person.id}" if person is not None else "person:none"


def _query(f: AuditFilter, target: str) -> Select[AuditRecord]:  # type: ignore[type-var]
    query = select(AuditRecord)
    for column, value in ((AuditRecord.actor, f.actor), (AuditRecord.action, f.action),
                          (AuditRecord.address, f.address)):
        if value:
            query = query.where(column.startswith(value, autoescape=True))
    if target:
        # A resolved person is an exact target: "person:1" must not match "person:12".
        query = query.where(AuditRecord.target == target if target.startswith("person:")
                            else AuditRecord.target.startswith(target, autoescape=True))
    if f.outcome:
        query = query.where(AuditRecord.outcome == f.outcome)
    if f.since:
        query = query.where(AuditRecord.at >= _day_start(f.since))
    if f.until:
        query = query.where(AuditRecord.at < _day_start(f.until + dt.timedelta(days=1)))
    return query


def search(session: Session, accounts: Accounts, f: AuditFilter) -> AuditPage:
    """One page of matching records, newest first."""
    query = _query(f, resolve_target(session, accounts, f.target))
    if f.before is not None:
        query = query.where(AuditRecord.seq < f.before)
    rows = list(session.scalars(query.order_by(AuditRecord.seq.desc()).limit(f.limit + 1)))
    more = len(rows) > f.limit
    rows = rows[:f.limit]
    return AuditPage([row_dict(r) for r in rows], rows[-1].seq if more and rows else None)


def row_dict(r: AuditRecord) -> dict[str, Any]:
    """A record as the JSON API and the CSV show it (time in UTC ISO 8601 and local)."""
    return {"seq": r.seq, "at": r.at.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "time": local_time(r.at), "actor": r.actor, "action": r.action,
            "target": r.target, "outcome": r.outcome, "address": r.address,
            "details": r.details, "hash": r.hash}


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           sort_keys=True)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(session: Session, accounts: Accounts, f: AuditFilter
               ) -> tuple[Iterator[str], int]:
    """The matching records as CSV text chunks (UTF-8 BOM for Excel) and their count.

    At most `EXPORT_MAX_ROWS` records, newest first; the count says how many were written.
    """
    query = _query(f, resolve_target(session, accounts, f.target))
    rows = [row_dict(r) for r in session.scalars(query.order_by(AuditRecord.seq.desc())
                                                 .limit(EXPORT_MAX_ROWS))]

    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(CSV_COLUMNS)
        for d in rows:
            writer.writerow([_cell(str(d["seq"])), _cell(d["time"])]
                            + [_cell(d[c]) for c in CSV_COLUMNS[2:]])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return chunks(), len(rows)
