"""Service tickets in the Store (CAS Protocol 3.0 §3.1, §3.7).

A ticket is ``ST-`` plus 256 random bits (well under the 256-character limit of §3.7),
bound to the exact service URL it was issued for, valid for one validation attempt only —
successful or not (§3.1.1) — and short-lived: 10 seconds by default, as §3.1.1
recommends, configurable with ``Settings.extra["cas_ticket_ttl"]``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from idp.crypto import random_token
from idp.settings import Settings
from idp.store import Store, pop_json, set_json

DEFAULT_TTL = 10
MAX_TICKET_LENGTH = 256  # §3.7: services MUST accept tickets of up to 256 characters
TICKET_RE = re.compile(r"^(ST|PT)-[A-Za-z0-9_-]{1,253}$")


@dataclass
class ServiceTicket:
    """What a validation releases: who, how, for which service, from which session."""

    service_id: int
    service: str  # the exact URL the ticket was issued for (§2.5.1)
    person_id: int
    sub: str
    sid: str
    epoch: int
    auth_time: int
    acr: str
    amr: list[str] = field(default_factory=list)
    from_new_login: bool = False  # issued right after credentials were presented (renew)
    acting: dict | None = None  # type: ignore[type-arg]  # `ActingRef.dump()`: acts for it


def ticket_ttl(settings: Settings) -> int:
    value = settings.extra.get("cas_ticket_ttl", DEFAULT_TTL)
    return value if isinstance(value, int) and 0 < value <= 300 else DEFAULT_TTL


def well_formed(ticket: str, prefix: str = "ST") -> bool:
    return len(ticket) <= MAX_TICKET_LENGTH and bool(TICKET_RE.match(ticket)) \
        and ticket.startswith(prefix + "-")


class ServiceTickets:
    """Issue and consume service tickets."""

    def __init__(self, store: Store, ttl: int) -> None:
        self._store = store
        self._ttl = ttl

    def issue(self, st: ServiceTicket) -> str:
        ticket = "ST-" + random_token(32)
        set_json(self._store, f"cas-st:{ticket}", asdict(st), self._ttl)
        return ticket

    def consume(self, ticket: str) -> ServiceTicket | None:
        """Take the ticket out of the Store: whoever validates first wins, once (§3.1.1)."""
        if not well_formed(ticket):
            return None
        data = pop_json(self._store, f"cas-st:{ticket}")
        return ServiceTicket(**data) if data else None
