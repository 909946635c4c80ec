"""Who may print a person's signed agreement, and the audit of every print (R-50, R-53).

The print view and the PDF carry a person's masked details; a person id in a URL is easy
to enumerate. So a clerk prints for a person whose counter case they handled themselves
(register, upgrade, password reset, phone change: found in the audit log under their actor),
and for anyone else only as an explicit *reprint* with a reason (`admin_ui.reveal`'s rules:
4–200 characters), e.g. a copy asked for by the person at another hall. Without either:
403 ``not_own_case`` and an ``admin:denied`` record. Every print, view or PDF, page or API,
is recorded as ``admin:counter:print_agreement`` (format, basis, reason).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_ui.reveal import RevealError, check_reason
from idp.audit import service as audit
from idp.audit.models import AuditRecord

ACTION = "counter.print_agreement"
AUDIT = "admin:counter:print_agreement"
# The clerk's own counter work on a person (targets ``person:<id>``).
HANDLED = ("admin:counter:register", "admin:counter:upgrade",
           "admin:counter:password_reset", "admin:counter:phone_change")


class PrintRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code  # "not_own_case" (no case, no reason) | "reason" (reason malformed)


def handled(session: Session, actor: str, person_id: int) -> bool:
    """Did ``actor`` do counter work for ``person_id``?"""
    return session.scalars(select(AuditRecord.seq).where(
        AuditRecord.actor == actor, AuditRecord.target == f"person:{person_id}",
        AuditRecord.action.in_(HANDLED), AuditRecord.outcome == "success").limit(1)
    ).first() is not None


def basis(session: Session, actor: str, person_id: int, reason: str | None) -> dict[str, Any]:
    """Why ``actor`` may print ``person_id``'s agreement, or `PrintRefused`."""
    if reason is None or not reason.strip():
        if handled(session, actor, person_id):
            return {"basis": "own_case"}
        raise PrintRefused("not_own_case")
    try:
        return {"basis": "reprint", "reason": check_reason(reason)}
    except RevealError as exc:
        raise PrintRefused("reason") from exc


def record(session: Session, *, actor: str, address: str, target: str, fmt: str,
           why: dict[str, Any]) -> None:
    """One print (``fmt``: ``view`` | ``pdf`` | ``json`` | ``blank``), in the caller's
    transaction."""
    audit.record(session, actor=actor, action=AUDIT, target=target, address=address,
                 details={"format": fmt, **why})
