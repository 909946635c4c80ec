"""The versioned service agreement: its text, signing it, and re-signing a new version (R-10).

Each version's text lives in ``agreements/<version>.<lang>.txt`` (``zh`` is authoritative);
the setting ``agreement_version`` names the current one. An acceptance records the version,
a SHA-256 of the Chinese text, the channel and the time (`AgreementAcceptance`).

Re-signing (issue 3 item 6): a person whose latest acceptance is of an older version must
sign the current one before a login completes. People who never signed online (counter,
import) signed on paper and are not asked here.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, ScalarSelect, select
from sqlalchemy.orm import Session

from idp.realname.models import AgreementAcceptance

TEXT_DIR = Path(__file__).parent / "agreements"
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")
CHANNELS = frozenset({"web", "app", "kiosk", "linked", "counter"})  # counter: on paper


class AgreementMissing(LookupError):
    """The configured version has no text file: a deployment error, found at first use."""


@dataclass(frozen=True)
class Agreement:
    version: str
    text: str  # Simplified Chinese, the binding text
    text_en: str
    sha256: str


@functools.cache
def load(version: str) -> Agreement:
    """The agreement of ``version`` (cached: a version's text never changes once published)."""
    if not _VERSION.match(version):
        raise AgreementMissing(version)
    zh = TEXT_DIR / f"{version}.zh.txt"
    if not zh.is_file():
        raise AgreementMissing(version)
    text = zh.read_text(encoding="utf-8")
    en = TEXT_DIR / f"{version}.en.txt"
    text_en = en.read_text(encoding="utf-8") if en.is_file() else text
    return Agreement(version, text, text_en, hashlib.sha256(text.encode()).hexdigest())


def accept(session: Session, person_id: int, agreement: Agreement,
           channel: str) -> AgreementAcceptance:
    """Record a signature in the caller's transaction (it commits with the account)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    row = AgreementAcceptance(person_id=person_id, version=agreement.version,
                              text_sha256=agreement.sha256, channel=channel)
    session.add(row)
    session.flush()
    return row


def latest(session: Session, person_id: int) -> AgreementAcceptance | None:
    return session.scalars(
        select(AgreementAcceptance).where(AgreementAcceptance.person_id == person_id)
        .order_by(AgreementAcceptance.accepted_at.desc(), AgreementAcceptance.id.desc())
        .limit(1)).first()


def latest_version_query(person_id: ColumnElement[int]) -> ScalarSelect[str]:
    """The version `latest` would return, as a scalar subquery (NULL: never signed), so a
    caller can read it in one statement with its own columns (the login's pending steps)."""
    table = AgreementAcceptance.__table__  # Core: no ORM loading for one value
    return (select(table.c.version).where(table.c.person_id == person_id)
            .order_by(table.c.accepted_at.desc(), table.c.id.desc())
            .limit(1).scalar_subquery())


def needs_resign(session: Session, person_id: int, current_version: str) -> bool:
    """True when the person signed online before, but not the current version."""
    last = latest(session, person_id)
    return last is not None and last.version != current_version
