"""Service ticket validation: ``/serviceValidate``, ``/p3/serviceValidate``,
``/proxyValidate`` (CAS Protocol 3.0 §2.5-§2.6, §2.8). Flask-free.

Order of checks: the request's shape (INVALID_REQUEST), the ticket's kind
(INVALID_TICKET_SPEC), then the ticket is consumed — from here on it is gone whatever
the outcome (§3.1.1) — and checked against the service (INVALID_SERVICE), the service's
registration (UNAUTHORIZED_SERVICE), ``renew``, the person's standing and any authority
to act for a legal person, re-checked live (INVALID_TICKET), and finally ``pgtUrl``
(INVALID_PROXY_CALLBACK: this platform issues no proxy-granting tickets, docs/cas.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.audit import service as audit
from idp.cas import acting
from idp.cas import responses as r
from idp.cas.models import CasService
from idp.cas.tickets import ServiceTicket, ServiceTickets, ticket_ttl
from idp.oidc.claims import ClaimContext, claims_for, profile
from idp.oidc.models import Client
from idp.platform import Platform

MAX_PARAM_LENGTH = 2048
KNOWN = ("service", "ticket", "renew", "pgtUrl", "format")


@dataclass
class ValidationRequest:
    service: str
    ticket: str
    renew: bool
    pgt_url: str
    fmt: str  # "XML" or "JSON" (§2.5.1 ``format``)


def response_format(multi: dict[str, list[str]]) -> str:
    values = multi.get("format", [])
    return "JSON" if len(values) == 1 and values[0].upper() == "JSON" else "XML"


def is_set(value: str | None) -> bool:
    """``renew``/``gateway``: set unless absent or explicitly "false" (§2.1.1)."""
    return value is not None and value.lower() != "false"


def parse(multi: dict[str, list[str]]) -> ValidationRequest:
    """Check the query's shape; duplicates and oversized values are INVALID_REQUEST."""
    fmt = response_format(multi)
    if len(multi) > 16 or any(len(v) != 1 or len(v[0]) > MAX_PARAM_LENGTH
                              for k, v in multi.items() if k in KNOWN):
        raise r.CasError(r.INVALID_REQUEST, "Parameters must be given once and be short.")
    one = {k: v[0] for k, v in multi.items() if k in KNOWN}
    if not one.get("service") or not one.get("ticket"):
        raise r.CasError(r.INVALID_REQUEST, "'service' and 'ticket' parameters are required.")
    if fmt == "XML" and one.get("format", "XML").upper() != "XML":
        raise r.CasError(r.INVALID_REQUEST, "'format' must be XML or JSON.")
    return ValidationRequest(one["service"], one["ticket"], is_set(one.get("renew")),
                             one.get("pgtUrl", ""), fmt)


def validate(platform: Platform, db: Session, req: ValidationRequest, *, proxy: bool,
             attributes: bool, address: str) -> tuple[str, dict[str, Any] | None]:
    """The validated user and (CAS 3.0) attributes; raises `CasError` on failure."""
    if req.ticket.startswith("PT-") and not proxy:
        raise r.CasError(r.INVALID_TICKET_SPEC, "Proxy tickets are not accepted here.")
    st = ServiceTickets(platform.store, ticket_ttl(platform.settings)).consume(req.ticket)
    if st is None:
        raise r.CasError(r.INVALID_TICKET, "Ticket not recognized (unknown, used or expired).")
    service = db.get(CasService, st.service_id)
    if st.service != req.service:
        raise r.CasError(r.INVALID_SERVICE, "Ticket was issued for another service.")
    if service is None or service.disabled:
        raise r.CasError(r.UNAUTHORIZED_SERVICE, "Service is not authorized to use CAS.")
    if req.renew and not st.from_new_login:
        raise r.CasError(r.INVALID_TICKET, "Ticket did not come from a new login (renew).")
    person = db.get(Person, st.person_id)
    if person is None or not person.is_active or person.security_epoch != st.epoch \
            or platform.sessions.load(st.sid) is None:
        raise r.CasError(r.INVALID_TICKET, "The sign-in behind this ticket has ended.")
    authority = None
    if st.acting is not None:  # live, like OIDC's token endpoint (issue 4 item 5)
        authority = acting.recheck(db, service, person.id, st.acting)
        if authority is None:
            raise r.CasError(r.INVALID_TICKET,
                             "The authority to act for the legal person has ended.")
    if req.pgt_url:
        raise r.CasError(r.INVALID_PROXY_CALLBACK, "Proxy callbacks are not enabled.")
    attrs = release(platform, db, service, person, st) if attributes else None
    if attrs is not None and authority is not None:
        attrs.update(acting.attributes(authority))
    audit.record(db, actor=f"person:{person.id}", action="cas:ticket:validated",
                 target=service.client_key, address=address,
                 details={"acr": st.acr, "attributes": sorted(attrs or {}),
                          **({"org": authority.credit_code} if authority else {})})
    return person.sub, attrs


def release(platform: Platform, db: Session, service: CasService, person: Person,
            st: ServiceTicket) -> dict[str, Any]:
    """CAS 3.0 attributes: the authentication, then one claim set per granted scope.

    The claim functions of `idp.oidc.claims` read only ``allow_idcard`` from the client,
    which `CasService` has too.
    """
    ctx = ClaimContext(Accounts(db, platform.protector, platform.hasher), person,
                       cast(Client, service))
    when = dt.datetime.fromtimestamp(st.auth_time, dt.UTC).isoformat().replace("+00:00", "Z")
    attrs: dict[str, Any] = {
        "authenticationDate": when, "isFromNewLogin": st.from_new_login,
        "longTermAuthenticationRequestTokenUsed": False,
        "sub": person.sub, "acr": st.acr, "amr": list(st.amr), **profile(ctx)}
    attrs.update(claims_for(ctx, service.scope))
    return attrs


def record_failure(db: Session, error: r.CasError, address: str) -> None:
    """Audit a refused validation (the ticket value is never recorded)."""
    audit.record(db, actor="anonymous", action="cas:ticket:invalid", outcome="failure",
                 address=address, details={"code": error.code})
