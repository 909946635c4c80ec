"""Status travels: Security Event Tokens to the nodes that linked a person (issue 6 item 4).

A ban, unban, closure or phone (or name) change at a person's home node becomes one SET
(RFC 8417) per node in `links.subscribers_of`, carrying a RISC account event
(OpenID RISC Profile 1.0) about the ``sub`` that node received, queued in the outbox within
the local transaction and pushed (RFC 8935, ``application/secevent+jwt``) to the node's
``set_endpoint``. Receivers (set_receiver.py) apply it and relay it to their own
subscribers, so A1 → B → B1.

Claims: ``iss`` this node, ``aud`` the peer's entity id, ``jti`` (stable across retries),
``iat`` (set at each attempt, so a node that was offline gets a fresh token), ``toe`` (when
the change happened: a NumericDate in seconds per RFC 8417 §2.2, with a millisecond fraction
so receivers order events that happen within one second), ``sub_id``
``{"format": "iss_sub", "iss": …, "sub": …}`` (RFC 9493) and ``events``. No personal data:
``identifier-changed`` says only *that* the phone or name changed — the receiver ends the
person's sessions there, and the next sign-in brings the home node's current claims
(`links.update_claims`); the number itself never travels in an event.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import requests
from joserfc import jwt
from sqlalchemy.orm import Session

from idp.accounts.models import AccountStatus, Person
from idp.audit import service as audit
from idp.crypto import random_token
from idp.federation import entity, outbox, trust
from idp.federation.links import subscribers_of
from idp.federation.outbox import DeliveryError, OutboxItem

if TYPE_CHECKING:
    from idp.federation.node import FederationNode

log = logging.getLogger(__name__)

RISC = "https://schemas.openid.net/secevent/risc/event-type/"
DISABLED, ENABLED = RISC + "account-disabled", RISC + "account-enabled"
PURGED, IDENTIFIER_CHANGED = RISC + "account-purged", RISC + "identifier-changed"
EVENT_TYPES = (DISABLED, ENABLED, PURGED, IDENTIFIER_CHANGED)
SET_TYP = "secevent+jwt"
MEDIA_TYPE = "application/secevent+jwt"
SET_PATH = entity.SET_PATH
KIND = "set"
SEND_TIMEOUT_CAP = 10

_BY_STATUS = {AccountStatus.BANNED: DISABLED, AccountStatus.ACTIVE: ENABLED,
              AccountStatus.CLOSED: PURGED}


def status_event(status: AccountStatus) -> tuple[str, dict[str, Any]]:
    """The RISC event for a new account status, with its (non-personal) payload."""
    event_type = _BY_STATUS[status]
    # RISC's own reasons ("hijacking", "bulk-account") do not fit an administrative ban;
    # the staff's free-text reason stays at home (it may name people).
    return event_type, ({"reason": "administrative"} if event_type == DISABLED else {})


def queue_for_subscribers(session: Session, person: Person, event_type: str,
                          payload: dict[str, Any], *, actor: str,
                          exclude: str = "") -> list[str]:
    """Queue one SET per node that linked ``person``; return their entity ids."""
    platform = outbox.platform_of(session)
    if platform is None:
        return []
    issuer = platform.settings.issuer.rstrip("/")
    toe = round(time.time(), 3)  # seconds (NumericDate), not milliseconds
    targets = []
    for sub in subscribers_of(session, person.id):
        if sub.node_entity_id == exclude:
            continue
        claims = {"iss": issuer, "aud": sub.node_entity_id, "jti": random_token(18),
                  "toe": toe, "sub_id": {"format": "iss_sub", "iss": issuer,
                                         "sub": sub.subject},
                  "events": {event_type: dict(payload)}}
        outbox.enqueue(session, sub.node_entity_id, KIND, claims)
        targets.append(sub.node_entity_id)
    if targets:
        audit.record(session, actor=actor, action="federation:event:queue",
                     target=f"person:{person.id}",
                     details={"event": event_type.removeprefix(RISC), "nodes": targets})
    return targets


def account_status_changed(session: Session, person: Person, status: AccountStatus, *,
                           actor: str) -> None:
    """Ban, unban, closure at this node: tell every node that linked the person."""
    if status in _BY_STATUS:
        event_type, payload = status_event(status)
        queue_for_subscribers(session, person, event_type, payload, actor=actor)


def identifier_changed(session: Session, person: Person, what: str, *, actor: str) -> None:
    """The phone or name changed here: linked nodes refresh at the person's next sign-in."""
    queue_for_subscribers(session, person, IDENTIFIER_CHANGED, {"changed": what}, actor=actor)


def identifier_hook(session: Session, person: Person, what: str) -> None:
    """`Accounts` hook (phone changes by the person or at a counter)."""
    identifier_changed(session, person, what, actor="system")


# -- sending ------------------------------------------------------------------------------


def sign(node: FederationNode, claims: dict[str, Any], now: int | None = None) -> str:
    """The SET, signed now with the node's federation key (RFC 8417 §2.2)."""
    signer = node.keys.signer()
    body = {**claims, "iat": int(time.time() if now is None else now)}
    return jwt.encode({"alg": "ES256", "kid": signer.kid, "typ": SET_TYP}, body, signer)


def endpoint_of(node: FederationNode, entity_id: str) -> str:
    """The peer's push endpoint from its trust chain metadata (``set_endpoint``)."""
    chain = node.resolver.resolve(entity_id)
    fed = chain.metadata.get("federation_entity", {})
    url = fed.get("set_endpoint") if isinstance(fed, dict) else None
    schemes = ("https://", "http://") if node.config.allow_http else ("https://",)
    return url if isinstance(url, str) and url.startswith(schemes) else entity_id + SET_PATH


def _send(node: FederationNode, item: OutboxItem) -> None:
    """Push one SET (RFC 8935 §2): 202 is success; anything else is retried."""
    try:
        url = endpoint_of(node, item.target)
    except trust.TrustError as exc:
        raise DeliveryError(f"target not trusted: {exc}"[:200]) from exc
    token = sign(node, item.payload)
    try:
        resp = node.http.post(url, data=token, timeout=min(SEND_TIMEOUT_CAP,
                                                           node.config.http_timeout),
                              headers={"Content-Type": MEDIA_TYPE,
                                       "Accept": "application/json"},
                              allow_redirects=False)
    except requests.RequestException as exc:
        raise DeliveryError(f"unreachable: {type(exc).__name__}") from exc
    if resp.status_code != 202:
        err = ""
        try:
            body = resp.json()
            err = str(body.get("err", "")) if isinstance(body, dict) else ""
        except ValueError:
            pass
        raise DeliveryError(f"answered {resp.status_code} {err}".strip())
    event_type = next(iter(item.payload.get("events", {})), "")
    with node.platform.db.session() as session:
        audit.record(session, actor="system", action="federation:event:sent",
                     target=item.target[:128], details={"event": event_type.removeprefix(RISC),
                                                  "jti": item.payload.get("jti", "")})


outbox.register_sender(KIND, _send)
