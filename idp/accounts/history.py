"""My login history, read from the audit log (issue 3 item 6, R-53, R-70).

Authentication events are audited with the person's ``sub`` as target
(`idp.accounts.lockout.record`; ``person:<id>`` elsewhere), so the history is an indexed
read of the audit log by target — only the person's own events, never anyone else's.
Attempts on a login name that has no account carry no target and never appear anywhere.

What is shown: time, method, event, outcome, and a coarse address (the last IPv4 octet,
or everything after the first 48 bits of an IPv6 address, hidden) — enough to notice a
stranger's attempt without turning the page into a tracking record.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.audit.models import AuditRecord

# Security-relevant events about signing in and the secrets that protect it.
HISTORY_ACTIONS = (
    "account:login:success", "account:login:failure", "account:lockout",
    "account:mfa:success", "account:mfa:failure", "account:reauth:failure",
    "account:password:change", "account:password:reset", "account:phone:change",
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 100


@dataclass(frozen=True)
class LoginEvent:
    id: int  # the audit sequence number, usable as a ``before`` cursor
    at: dt.datetime
    action: str
    method: str
    outcome: str
    address: str  # coarse


def coarse_address(address: str) -> str:
    """``203.0.113.57`` → ``203.0.113.*``; IPv6 keeps its first 48 bits; others hidden."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "-"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        return ".".join(str(ip).split(".")[:3]) + ".*"
    groups = ip.exploded.split(":")[:3]
    return ":".join(g.lstrip("0") or "0" for g in groups) + ":*"


def _method(details: dict[str, object]) -> str:
    for key in ("method", "kind"):
        value = details.get(key)
        if isinstance(value, str) and value:
            return value[:32]
    return ""


def login_history(session: Session, person: Person, *, limit: int = DEFAULT_LIMIT,
                  before: int | None = None) -> list[LoginEvent]:
    """The person's newest authentication events first; ``before`` pages back by id."""
    limit = max(1, min(limit, MAX_LIMIT))
    # Both target spellings in use: ``sub`` (lockout.record) and ``person:<id>`` (oidc).
    targets = (person.sub, f"person:{person.id}")
    query = (select(AuditRecord).where(AuditRecord.target.in_(targets),
                                       AuditRecord.action.in_(HISTORY_ACTIONS))
             .order_by(AuditRecord.seq.desc()).limit(limit))
    if before is not None:
        query = query.where(AuditRecord.seq < before)
    return [LoginEvent(r.seq, r.at, r.action, _method(r.details or {}), r.outcome,
                       coarse_address(r.address))
            for r in session.scalars(query)]
