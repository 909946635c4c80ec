"""Reveal a person's full document number to a role allowed it, with a reason (R-53, R-70).

Identity numbers are sensitive personal information (R-70): the console shows them masked.
An auditor investigating a case may need the full number; the permission table decides who
may (``person.reveal_id_number``), a reason of `MIN_REASON`–`MAX_REASON` characters is
required, and the reveal is audited in the same transaction as the read — if the audit
record cannot be written, the number is not shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.accounts.service import Accounts
from idp.audit import service as audit
from idp.crypto import mask_id_number

MIN_REASON = 4
MAX_REASON = 200


class RevealError(ValueError):
    """The reveal cannot be done: ``code`` is ``reason`` (missing/too short/long) or
    ``not_found``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Revealed:
    person_id: int
    id_type: str
    masked: str
    full: str


def check_reason(reason: object) -> str:
    """The reason, trimmed, or `RevealError("reason")`."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not MIN_REASON <= len(text) <= MAX_REASON or any(
            not c.isprintable() for c in text):
        raise RevealError("reason")
    return text


def masked_id_number(accounts: Accounts, person_id: int) -> Revealed:
    """The masked number only (for the page asking for a reason); nothing audited."""
    person = accounts.get(person_id)
    if person is None:
        raise RevealError("not_found")
    return Revealed(person.id, person.id_type, mask_id_number(accounts.id_number(person)), "")


def reveal_id_number(session: Session, accounts: Accounts, person_id: int, *, actor: str,
                     reason: object, address: str) -> Revealed:
    """The full number of ``person_id``, audited with ``reason`` (caller checked the role)."""
    text = check_reason(reason)
    person = accounts.get(person_id)
    if person is None:
        raise RevealError("not_found")
    full = accounts.id_number(person)
    masked = mask_id_number(full)
    # The record carries the masked number: the log itself must not become a copy of the data.
    audit.record(session, actor=actor, action="admin:person:reveal_id_number",
                 target=f"person:{person.id}", outcome="success", address=address,
                 details={"reason": text, "id_number": masked, "id_type": person.id_type})
    return Revealed(person.id, person.id_type, masked, full)
