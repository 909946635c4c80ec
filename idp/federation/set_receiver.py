"""Receiving Security Event Tokens from other nodes (RFC 8935 push; issue 6 items 4, 5).

``POST /federation/events`` (``application/secevent+jwt``; advertised as
``federation_entity.set_endpoint``). A SET is accepted only when

- its ``aud`` is this node and its ``iat`` is fresh (`MAX_AGE`; the sender signs at each
  attempt, so a retried event is fresh too);
- ``iss`` is a node this node already knows (`known.is_known_node`: the home node of an
  account it linked, a subscriber, a child, a superior) — checked before any network call,
  so an unsigned SET cannot make this node fetch from an address of the sender's choosing —
  and resolves to a trust chain ending at the anchor (trust.py), and the SET verifies
  with the keys that chain vouches for — no per-peer configuration;
- ``toe`` (RFC 8417 NumericDate: seconds, fractions allowed) is finite and not in the future;
- its subject is ``iss_sub`` with ``iss`` equal to the sender: a node speaks only about its
  own accounts, and only accounts this node linked to that node (`links.find_linked`).

Each ``(iss, jti)`` is applied once (table `federation_received_event`: durable, because a
sender retries after a lost answer and must get 202 again, without a second effect).
Status events older (``toe``) than one already applied for the same subject are recorded
but not applied, so a late ban never undoes a newer unban; the linked person's link row is
locked (`_lock`) before that check, so a ban and an unban arriving together apply in ``toe``
order. Refusals answer with the RFC 8935 ``err`` code and a generic description; the detail
goes to the log and the audit record only. Applying: the local federated person is disabled,
re-enabled or closed, its sessions end, back-channel logout goes to this node's own
department systems, and the event is relayed to this node's own subscribers (A1 → B → B1).
Everything is audited as ``federation:event:receive``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify, request
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.accounts.models import AccountStatus, Person
from idp.accounts.service import Accounts
from idp.audit import service as audit
from idp.federation import entity, events, known
from idp.federation.entity import StatementError
from idp.federation.event_models import ReceivedEvent
from idp.federation.links import FederatedAccount, account_of, find_linked
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
    """A refused SET; ``err`` is an RFC 8935 §2.3 error code. The message is what the sender
    is told; ``detail`` (what went wrong with whom) is only logged and audited."""

    def __init__(self, err: str, description: str, detail: str = "") -> None:
        super().__init__(description)
        self.err = err
        self.detail = detail or description


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
                 now: float, *, allow_http: bool = False) -> tuple[str, dict[str, Any], float]:
    """Cheap checks before any network call; return (event type, subject, toe)."""
    if header.get("typ") != events.SET_TYP or header.get("alg") not in entity.ALGORITHMS:
        raise SetError("invalid_request", "typ must be secevent+jwt, alg ES256")
    try:
        check_entity_id(claims.get("iss"), allow_http=allow_http)
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
    # NumericDate seconds (RFC 8417 §2.2); a future toe would outrank every later event.
    if not isinstance(toe, int | float) or isinstance(toe, bool) or not math.isfinite(toe) \
            or not 0 < toe <= now + entity.LEEWAY:
        raise SetError("invalid_request", "toe must be a time in seconds, not in the future")
    return next(iter(evs)), subject, float(toe)


def verify(node: FederationNode, token: str, now: float | None = None) -> dict[str, Any]:
    """Verify a SET for this node; return its claims or raise `SetError`."""
    now = time.time() if now is None else now
    header, claims = _parse(token)
    check_claims(header, claims, node.entity_id, now, allow_http=node.config.allow_http)
    if not known.is_known_node(node, claims["iss"]):
        raise SetError("invalid_issuer", "issuer not trusted",
                       f"{claims['iss']} is not a node known here")
    try:
        chain = node.resolver.resolve(claims["iss"], remember_failure=True)
        keys = entity.import_jwks(chain.jwks)
    except (TrustError, StatementError) as exc:
        raise SetError("invalid_issuer", "issuer not trusted",
                       f"{claims['iss']}: {exc}"[:300]) from exc
    if not any(k.kid == header.get("kid") for k in keys.keys):
        raise SetError("invalid_key", "signed by a key the federation does not vouch for")
    try:
        jwt.decode(token, keys, algorithms=entity.ALGORITHMS)  # type: ignore[arg-type]
    except (JoseError, ValueError) as exc:
        raise SetError("invalid_key", "bad signature") from exc
    return claims


def _lock(session: Session, person_id: int) -> Person | None:
    """Serialise events about one linked person and return it fresh.

    A no-op UPDATE of its link row (not SELECT … FOR UPDATE) so that SQLite, whose deferred
    transactions take the write lock only at the first write, serialises too; on PostgreSQL
    it holds the row lock until commit. A ban and an unban arriving together thus run one
    after the other, and the second one's staleness check sees the first one's record.
    """
    session.execute(update(FederatedAccount).where(FederatedAccount.person_id == person_id)
                    .values(home_level=FederatedAccount.home_level)
                    .execution_options(synchronize_session=False))
    session.expire_all()
    return session.get(Person, person_id)  # None if deleted meanwhile: an unknown subject


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
                                            node.entity_id, time.time() if now is None else now,
                                            allow_http=node.config.allow_http)
    iss, sub, actor = claims["iss"], subject["sub"], f"node:{claims['iss']}"
    short = event_type.removeprefix(events.RISC)
    try:
        with node.platform.db.session() as session:
            person = find_linked(session, iss, sub)
            if person is not None:
                person = _lock(session, person.id)
            if session.scalars(select(ReceivedEvent.id).where(
                    ReceivedEvent.issuer == iss, ReceivedEvent.jti == claims["jti"])).first():
                raise _Duplicate
            notices: list[LogoutNotice] = []
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
        log.info("SET refused from %s: %s (%s)", address, exc, exc.detail)
        with platform.db.session() as session:
            audit.record(session, actor="node:?", action="federation:event:receive",
                         outcome="failure", address=address,
                         details={"err": exc.err, "reason": exc.detail[:200]})
        return _error(400, exc.err, str(exc))
    send_notices(platform, list(result.notices))  # after commit (logout.py)
    return Response(status=202)

