"""Receiving Security Event Tokens from other nodes (RFC 8935 push; issue 6 items 4, 5).

``POST /federation/events`` (``application/secevent+jwt``; advertised as
``federation_entity.set_endpoint``). A SET is accepted only when

- its ``aud`` is this node and its ``iat`` is fresh (`MAX_AGE`; the sender signs at each
  attempt, so a retried event is fresh too);
- ``iss`` resolves to a trust chain ending at the anchor (trust.py) and the SET verifies
  with the keys that chain vouches for — no per-peer configuration;
- its subject is ``iss_sub`` with ``iss`` equal to the sender: a node speaks only about its
  own accounts, and only accounts this node linked to that node (`links.find_linked`).

Each ``(iss, jti)`` is applied once (table `federation_received_event`: durable, because a
sender retries after a lost answer and must get 202 again, without a second effect).
Status events older (``toe``) than one already applied for the same subject are recorded
but not applied, so a late ban never undoes a newer unban. Applying: the local federated
person is disabled, re-enabled or closed, its sessions end, back-channel logout goes to
this node's own department systems, and the event is relayed to this node's own
subscribers (A1 → B → B1). Everything is audited as ``federation:event:receive``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify, request
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.accounts.models import AccountStatus, Person
from idp.accounts.service import Accounts
from idp.audit import service as audit
from idp.federation import entity, events
from idp.federation.entity import StatementError
from idp.federation.event_models import ReceivedEvent
from idp.federation.links import account_of, find_linked
from idp.federation.node import FederationNode, federation
from idp.federation.trust import TrustError, check_entity_id
from idp.oidc.logout import LogoutNotice, end_person_sessions, send_notices
from idp.platform import current_platform
from idp.ratelimit import Limit

log = logging.getLogger(__name__)
bp = Blueprint("federation_events", __name__)

MAX_AGE = 300  # seconds a SET's iat may lie in the past
FAILURES = Limit("fed-set-fail", 30, 300)  # refused SETs per source address


class SetError(Exception):
    """A refused SET; ``err`` is an RFC 8935 §2.3 error code."""

    def __init__(self, err: str, description: str) -> None:
        super().__init__(description)
        self.err = err


class _Duplicate(Exception):
    """This ``(iss, jti)`` was received before."""


@dataclass(frozen=True)
class Received:
    outcome: str  # applied | duplicate | stale | unknown_subject
    event_type: str
    notices: tuple[LogoutNotice, ...] = ()


def _parse(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if token.count(".") != 2 or len(token) > entity.MAX_TOKEN_BYTES:
        raise SetError("invalid_request", "not a compact JWS")
    try:
        head, body, _ = token.split(".")
        return entity._b64json(head), entity._b64json(body)
    except ValueError as exc:
        raise SetError("invalid_request", "undecodable SET") from exc


def check_claims(header: dict[str, Any], claims: dict[str, Any], audience: str,
                 now: float) -> tuple[str, dict[str, Any], float]:
    """Cheap checks before any network call; return (event type, subject, toe)."""
    if header.get("typ") != events.SET_TYP or header.get("alg") not in entity.ALGORITHMS:
        raise SetError("invalid_request", "typ must be secevent+jwt, alg ES256")
    try:
        check_entity_id(claims.get("iss"))
    except TrustError as exc:
        raise SetError("invalid_issuer", "iss must be a node's entity id") from exc
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise SetError("invalid_audience", "the SET is for another node")
    iat, jti = claims.get("iat"), claims.get("jti")
    if type(iat) is not int or not now - MAX_AGE <= iat <= now + entity.LEEWAY:
        raise SetError("invalid_request", "iat missing, stale or in the future")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 200:
        raise SetError("invalid_request", "jti is required")
    evs = claims.get("events")
    if not isinstance(evs, dict) or len(evs) != 1 or next(iter(evs)) not in events.EVENT_TYPES \
            or not isinstance(next(iter(evs.values())), dict):
        raise SetError("invalid_request", "exactly one supported RISC event is required")
    subject = claims.get("sub_id")
    if not isinstance(subject, dict) or subject.get("format") != "iss_sub" \
            or subject.get("iss") != claims["iss"] or not isinstance(subject.get("sub"), str) \
            or not 0 < len(subject["sub"]) <= 255:
        raise SetError("invalid_request", "sub_id must be iss_sub about the issuer's account")
    toe = claims.get("toe", iat)
    if not isinstance(toe, int | float) or isinstance(toe, bool):
        raise SetError("invalid_request", "toe must be a number")
    return next(iter(evs)), subject, float(toe)


def verify(node: FederationNode, token: str, now: float | None = None) -> dict[str, Any]:
    """Verify a SET for this node; return its claims or raise `SetError`."""
    now = time.time() if now is None else now
    header, claims = _parse(token)
    check_claims(header, claims, node.entity_id, now)
    try:
        chain = node.resolver.resolve(claims["iss"])
        keys = entity.import_jwks(chain.jwks)
    except (TrustError, StatementError) as exc:
        raise SetError("invalid_issuer", f"issuer not trusted: {exc}"[:300]) from exc
    if not any(k.kid == header.get("kid") for k in keys.keys):
        raise SetError("invalid_key", "signed by a key the federation does not vouch for")
    try:
        jwt.decode(token, keys, algorithms=entity.ALGORITHMS)  # type: ignore[arg-type]
    except (JoseError, ValueError) as exc:
        raise SetError("invalid_key", "bad signature") from exc
    return claims


def _newer_applied(session: Session, issuer: str, subject: str, toe: float) -> bool:
    return session.scalars(select(ReceivedEvent.id).where(
        ReceivedEvent.issuer == issuer, ReceivedEvent.subject == subject,
        ReceivedEvent.outcome == "applied", ReceivedEvent.toe > toe).limit(1)).first() is not None


def _apply(node: FederationNode, session: Session, person: Person, event_type: str,
           actor: str) -> list[LogoutNotice]:
    """Change the local federated person; end its sessions here when it must sign in again."""
    platform = node.platform
    accounts = Accounts(session, platform.protector, platform.hasher)
    target = {events.DISABLED: AccountStatus.BANNED, events.ENABLED: AccountStatus.ACTIVE,
              events.PURGED: AccountStatus.CLOSED}.get(event_type)
    if target is AccountStatus.ACTIVE:
        if person.status == AccountStatus.BANNED.value:  # a closed account stays closed
            accounts.set_status(person, AccountStatus.ACTIVE)
        return []
    if target is not None and person.status != AccountStatus.CLOSED.value:
        accounts.set_status(person, target)
    # Disabled, closed, or phone/name changed: sessions end, so the next sign-in goes back
    # to the home node and brings its current claims and status.
    return end_person_sessions(platform, session, person, reason="federation_event",
                               actor=actor)


def receive(node: FederationNode, token: str, now: float | None = None) -> Received:
    """Verify, record and apply one SET; the caller sends the returned notices."""
    claims = verify(node, token, now)
    event_type, subject, toe = check_claims({"typ": events.SET_TYP, "alg": "ES256"}, claims,
                                            node.entity_id, time.time() if now is None else now)
    iss, sub, actor = claims["iss"], subject["sub"], f"node:{claims['iss']}"
    short = event_type.removeprefix(events.RISC)
    try:
        with node.platform.db.session() as session:
            if session.scalars(select(ReceivedEvent.id).where(
                    ReceivedEvent.issuer == iss, ReceivedEvent.jti == claims["jti"])).first():
                raise _Duplicate
            notices: list[LogoutNotice] = []
            person = find_linked(session, iss, sub)
            link = account_of(session, person.id) if person is not None else None
            if person is None or link is None or link.home_entity_id.rstrip("/") != iss:
                outcome = "unknown_subject"
            elif _newer_applied(session, iss, sub, toe):
                outcome = "stale"
            else:
                outcome = "applied"
                notices = _apply(node, session, person, event_type, actor)
                payload = dict(claims["events"][event_type])
                events.queue_for_subscribers(session, person, event_type, payload, actor=actor,
                                             exclude=iss)
            with session.begin_nested():
                session.add(ReceivedEvent(issuer=iss, jti=claims["jti"], subject=sub,
                                          event_type=event_type, toe=toe, outcome=outcome))
                session.flush()
            audit.record(session, actor=actor, action="federation:event:receive",
                         target=f"person:{person.id}" if person is not None else "",
                         outcome="success" if outcome == "applied" else outcome,
                         details={"event": short, "jti": claims["jti"]})
    except (_Duplicate, IntegrityError):  # (iss, jti) seen before: acknowledge, do nothing
        with node.platform.db.session() as session:
            audit.record(session, actor=actor, action="federation:event:receive",
                         outcome="duplicate", details={"event": short, "jti": claims["jti"]})
        return Received("duplicate", event_type)
    return Received(outcome, event_type, tuple(notices))


def _error(status: int, err: str, description: str) -> Response:
    resp = jsonify({"err": err, "description": description})
    resp.status_code = status
    return resp


@bp.post(events.SET_PATH)
def push() -> Response:
    """RFC 8935 §2: 202 on acceptance (also for a duplicate), 400 with ``err`` otherwise."""
    platform = current_platform()
    node = federation(platform)
    address = request.remote_addr or ""
    if not node.config.enabled:
        return _error(404, "invalid_request", "this node is not federated")
    if not platform.limiter.test(FAILURES, address):
        return _error(429, "access_denied", "too many refused events")
    if request.mimetype != events.MEDIA_TYPE:
        return _error(400, "invalid_request", "Content-Type must be application/secevent+jwt")
    token = request.get_data(cache=False, as_text=True).strip()
    try:
        result = receive(node, token)
    except SetError as exc:
        platform.limiter.hit(FAILURES, address)
        log.info("SET refused from %s: %s", address, exc)
        with platform.db.session() as session:
            audit.record(session, actor="node:?", action="federation:event:receive",
                         outcome="failure", address=address,
                         details={"err": exc.err, "reason": str(exc)[:200]})
        return _error(400, exc.err, str(exc))
    send_notices(platform, list(result.notices))  # after commit (logout.py)
    return Response(status=202)

