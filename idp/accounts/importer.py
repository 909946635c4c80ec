"""Migrate natural-person accounts from the legacy platform (issue 2, item 3; R-63, R-70).

Input is JSON lines, one account per line::

    {"id_type": "resident_id", "id_number": "110105194912310029", "name": "张三",
     "phone": "13800138000", "realname_level": 2, "password_hash": "$2b$12$…"}

``password_hash`` is taken as-is in any form `idp.passwords.scheme_of` recognises (verified
at the first login and replaced by argon2id); ``null`` means the person must set a new
password. Every line is checked before anything is written; a bad line is reported by its
number with a reason that never shows a document number or phone in clear, and skipped.
Lines are committed in batches, each account with its audit record, so an interrupted run
loses nothing and a re-run resumes: an account whose document is already present counts as
*unchanged* and is left alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from idp.accounts.models import Channel, IdType, Person
from idp.accounts.service import (
    AccountExists,
    Accounts,
    PhoneTaken,
    normalize_document,
    normalize_phone,
)
from idp.audit.service import record
from idp.crypto import DataProtector, mask_id_number, mask_phone
from idp.db import Database
from idp.passwords import PasswordHasher, UnknownHashFormat, scheme_of
from idp.realname.documents import DocumentError, parse

ACTOR = "cli:import"
MAX_LINE_BYTES = 4096
MAX_NAME_CHARS = 100
MAX_NAME_BYTES = 300  # keeps the ciphertext inside person.name_enc (512)
MAX_HASH_CHARS = 255  # person.password_hash
REQUIRED = ("id_type", "id_number", "name", "phone", "realname_level", "password_hash")

_MOBILE = re.compile(r"1[3-9]\d{9}")
# Legacy exports carry no issuing country for passports: check the generic ICAO shape only.
_PASSPORT = re.compile(r"[A-Z0-9]{5,20}")


class LineRejected(ValueError):
    """A line cannot be imported; the message is safe to print (personal data masked)."""


def document_problem(id_type: str, number: str) -> str | None:
    """Why a normalised document number cannot be right for its type, or None.

    The error's code, never its message, is reported: messages may quote the birth date.
    """
    if id_type not in {t.value for t in IdType}:
        return f"id_type {id_type!r} is not one of {', '.join(t.value for t in IdType)}"
    if id_type == IdType.PASSPORT:
        if _PASSPORT.fullmatch(number):
            return None
        return f"id_number {mask_id_number(number)} does not have the shape of a passport"
    try:
        parse(id_type, number)
    except DocumentError as exc:
        return f"id_number {mask_id_number(number)} is not a valid {id_type} ({exc.code})"
    return None


def phone_problem(phone: str) -> str | None:
    """Why a normalised phone is not a mainland mobile number (11 digits, 1[3-9]…), or None."""
    if _MOBILE.fullmatch(phone):
        return None
    return f"phone {mask_phone(phone)} is not an 11-digit mainland mobile number"


def name_problem(name: str) -> str | None:
    if not name:
        return "name is empty"
    if len(name) > MAX_NAME_CHARS or len(name.encode()) > MAX_NAME_BYTES:
        return f"name is longer than {MAX_NAME_CHARS} characters"
    if any(not c.isprintable() for c in name):
        return "name contains control characters"
    return None


@dataclass(frozen=True)
class LegacyAccount:
    """One validated line, normalised and ready to create."""

    line: int
    id_type: str
    id_number: str
    name: str
    phone: str | None
    realname_level: int
    password_hash: str | None


def _typed(obj: dict[str, Any], key: str, kinds: tuple[type, ...], label: str) -> Any:
    value = obj[key]
    if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
        raise LineRejected(f"{key} must be {label}, got {type(value).__name__}")
    return value


def parse_line(line_no: int, raw: bytes) -> LegacyAccount:
    """Validate one line (issue 2, item 3); raise `LineRejected` naming the first problem."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LineRejected("line is not UTF-8") from exc
    except (json.JSONDecodeError, RecursionError) as exc:
        raise LineRejected("line is not valid JSON") from exc
    if not isinstance(obj, dict):
        raise LineRejected(f"line must be a JSON object, got {type(obj).__name__}")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise LineRejected(f"missing field(s): {', '.join(missing)}")
    id_type = _typed(obj, "id_type", (str,), "a string")
    number = normalize_document(_typed(obj, "id_number", (str,), "a string"))
    name = " ".join(_typed(obj, "name", (str,), "a string").split())
    phone_raw = _typed(obj, "phone", (str, type(None)), "a string or null")
    level = _typed(obj, "realname_level", (int,), "an integer")
    hashed = _typed(obj, "password_hash", (str, type(None)), "a string or null")
    problem = document_problem(id_type, number) or name_problem(name)
    if problem:
        raise LineRejected(problem)
    phone = normalize_phone(phone_raw) if phone_raw else None
    if phone is not None and (problem := phone_problem(phone)):
        raise LineRejected(problem)
    if level not in (1, 2, 3):
        raise LineRejected(f"realname_level must be 1, 2 or 3, got {level}")
    if hashed is not None:
        _check_hash(hashed)
    return LegacyAccount(line_no, id_type, number, name, phone, level, hashed)


def _check_hash(hashed: str) -> None:
    if len(hashed) > MAX_HASH_CHARS:
        raise LineRejected(f"password_hash is longer than {MAX_HASH_CHARS} characters")
    try:
        scheme_of(hashed)
    except UnknownHashFormat as exc:
        # The hash itself is not echoed: it is a credential.
        raise LineRejected(f"password_hash: {exc}") from exc


def read_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line number, bytes)``; ``None`` for a line over `MAX_LINE_BYTES`.

    Reads at most `MAX_LINE_BYTES` at a time, so one enormous line cannot exhaust memory.
    Blank lines are skipped; a UTF-8 byte order mark on the first line is dropped.
    """
    line_no = 0
    while True:
        chunk = stream.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        line_no += 1
        if line_no == 1:
            chunk = chunk.removeprefix(b"\xef\xbb\xbf")
        if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):  # discard the rest of the line
                chunk = stream.readline(64 * 1024)
            yield line_no, None
            continue
        if chunk.strip():
            yield line_no, chunk


@dataclass
class ImportReport:
    """What a run did; ``rejected`` holds ``(line number, reason)``."""

    imported: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.rejected.append((line, reason))


class _Seen:
    """Documents and phones already met earlier in the file, by blind index → line."""

    def __init__(self) -> None:
        self.documents: dict[tuple[str, str], int] = {}
        self.phones: dict[str, int] = {}


class Importer:
    """Import legacy accounts in batches; each batch is one transaction (R-71)."""

    def __init__(self, db: Database, accounts_factory: Callable[[Session], Accounts],
                 batch_size: int = 500) -> None:
        self.db = db
        self.accounts_factory = accounts_factory
        self.batch_size = max(1, batch_size)

    def run(self, stream: IO[bytes]) -> ImportReport:
        report, seen, batch = ImportReport(), _Seen(), []
        for line_no, raw in read_lines(stream):
            if raw is None:
                report.reject(line_no, f"line is longer than {MAX_LINE_BYTES} bytes")
                continue
            try:
                batch.append(parse_line(line_no, raw))
            except LineRejected as exc:
                report.reject(line_no, str(exc))
            if len(batch) >= self.batch_size:
                self._import_batch(batch, seen, report)
                batch = []
        if batch:
            self._import_batch(batch, seen, report)
        report.rejected.sort()
        self._audit_summary(report)
        return report

    def _import_batch(self, batch: list[LegacyAccount], seen: _Seen,
                      report: ImportReport) -> None:
        with self.db.session() as session:
            accounts: Accounts = self.accounts_factory(session)
            keyed = [(a, accounts.id_index(a.id_number),
                      accounts.phone_index(a.phone) if a.phone else None) for a in batch]
            existing = _existing_documents(session, [(a.id_type, i) for a, i, _ in keyed])
            for account, id_index, phone_index in keyed:
                problem = _duplicate_in_file(account, id_index, phone_index, seen)
                if problem:
                    report.reject(account.line, problem)
                elif (account.id_type, id_index) in existing:
                    report.unchanged += 1
                else:
                    self._create(accounts, account, report)

    def _create(self, accounts: Accounts, account: LegacyAccount,
                report: ImportReport) -> None:
        try:
            person = accounts.create(
                id_type=account.id_type, id_number=account.id_number, name=account.name,
                phone=account.phone, password_hash=account.password_hash,
                realname_level=account.realname_level, channel=Channel.IMPORT.value,
                must_change_password=account.password_hash is None,
            )
        except AccountExists:  # registered meanwhile through another channel
            report.unchanged += 1
            return
        except PhoneTaken:
            report.reject(account.line, f"phone {mask_phone(account.phone or '')} "
                                        "is bound to another account")
            return
        record(accounts.session, actor=ACTOR, action="account:import",
               target=mask_id_number(account.id_number),
               details={"sub": person.sub, "id_type": account.id_type, "line": account.line,
                        "realname_level": account.realname_level,
                        "password": scheme_of(account.password_hash)
                        if account.password_hash else None})
        report.imported += 1

    def _audit_summary(self, report: ImportReport) -> None:
        with self.db.session() as session:
            record(session, actor=ACTOR, action="account:import:run",
                   outcome="success" if not report.rejected else "partial",
                   details={"imported": report.imported, "unchanged": report.unchanged,
                            "rejected": len(report.rejected)})


def _existing_documents(session: Session, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The ``(id_type, id_index)`` pairs among ``keys`` that already have an account."""
    if not keys:
        return set()
    rows = session.execute(select(Person.id_type, Person.id_index)
                           .where(tuple_(Person.id_type, Person.id_index).in_(keys)))
    return {(t, i) for t, i in rows}


def _duplicate_in_file(account: LegacyAccount, id_index: str, phone_index: str | None,
                       seen: _Seen) -> str | None:
    """Reject a second line for one document or one phone; the first one wins."""
    doc_key = (account.id_type, id_index)
    first = seen.documents.setdefault(doc_key, account.line)
    if first != account.line:
        return f"id_number {mask_id_number(account.id_number)} already on line {first}"
    if phone_index is not None:
        first = seen.phones.setdefault(phone_index, account.line)
        if first != account.line:
            return f"phone {mask_phone(account.phone or '')} already on line {first}"
    return None


def import_accounts(db: Database, protector: DataProtector, hasher: PasswordHasher,
                    stream: IO[bytes], batch_size: int = 500) -> ImportReport:
    """Import a JSON-lines stream of legacy accounts; see the module docstring."""
    return Importer(db, lambda s: Accounts(s, protector, hasher), batch_size).run(stream)


def iter_report_lines(report: ImportReport) -> Iterable[str]:
    for line, reason in report.rejected:
        yield f"line {line}: {reason}"
