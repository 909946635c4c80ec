"""Which nodes this node may contact at all, decided before any network call (issue 6 item 5).

An entity id in a request (a SET's ``iss``, a peer's ``client_id``) is attacker-chosen; the
trust resolver fetches from it. So it is resolved only when this node already has a reason
to know it, otherwise it is refused without a request (no SSRF, no response oracle):

- `is_known_node` — local knowledge only: ourselves, our parent, our active children, the
  superiors on our own chain (parent … anchor), the home node of an account we linked, or a
  node that subscribed to one of our persons. Used for incoming SETs: only a home node (or
  the node relaying for it) ever sends one.
- `is_listed` — for peer clients, which may be any node of the country: the entity id
  appears in the subordinate listing (OIDF §8.2 ``/federation/list``) of the trust anchor or
  of one of the anchor's subordinates (the provinces). The listings come from nodes our own
  chain already vouches for, are cached for `LISTING_SECONDS`, and are refreshed on a miss
  at most every `REFRESH_SECONDS`, so unknown ids cannot turn into a fetch storm.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import requests
from sqlalchemy import select

from idp.federation import entity
from idp.federation.links import FederatedAccount, NodeSubscriber
from idp.federation.trust import TrustError, check_entity_id
from idp.store import get_json, set_json

if TYPE_CHECKING:
    from idp.federation.node import FederationNode

log = logging.getLogger(__name__)

LISTING_SECONDS = 300  # how long the federation's listings are trusted as complete
REFRESH_SECONDS = 30  # a miss refreshes the listings at most this often
MAX_LISTED = 5000  # entries accepted from one listing
_LISTING_KEY = "fed:listing"


def _variants(entity_id: str) -> list[str]:
    return [entity_id, entity_id + "/"]


def superiors(node: FederationNode) -> list[str]:
    """Our own chain above us: parent first, the anchor last (empty on the anchor)."""
    if node.config.is_anchor or not node.config.enabled:
        return []
    try:
        # Failure remembered: a down parent costs one timeout per 30 s, not one per request.
        return node.resolver.resolve(node.entity_id, remember_failure=True).path[1:]
    except TrustError as exc:  # our parent is down or dropped us: only local facts remain
        log.warning("own trust chain unavailable: %s", exc)
        return []


def anchor_of(node: FederationNode) -> str | None:
    if node.config.is_anchor:
        return node.entity_id
    above = superiors(node)
    return above[-1] if above else None


def is_known_node(node: FederationNode, entity_id: str) -> bool:
    """True when ``entity_id`` is a node this node already deals with (no network call,
    except resolving our own chain, which only contacts our configured parent)."""
    entity_id = entity_id.rstrip("/")
    if entity_id in (node.entity_id, node.config.parent) or node.is_child(entity_id):
        return True
    with node.platform.db.session() as session:
        linked = session.scalars(select(FederatedAccount.id).where(
            FederatedAccount.home_entity_id.in_(_variants(entity_id))).limit(1)).first()
        if linked is None:
            linked = session.scalars(select(NodeSubscriber.id).where(
                NodeSubscriber.node_entity_id.in_(_variants(entity_id))).limit(1)).first()
    return linked is not None or entity_id in superiors(node)


def _list_of(node: FederationNode, entity_id: str) -> list[str]:
    """The active subordinates ``entity_id`` lists (ours locally), or [] when unavailable."""
    if entity_id == node.entity_id:
        return node.subordinate_ids()
    try:
        check_entity_id(entity_id, allow_http=node.config.allow_http)
        resp = node.http.get(entity_id + entity.LIST_PATH, timeout=node.config.http_timeout,
                             allow_redirects=False)
        value: Any = resp.json() if resp.status_code == 200 else []
    except (TrustError, requests.RequestException, ValueError) as exc:
        log.info("federation listing of %s unavailable: %s", entity_id, type(exc).__name__)
        return []
    if not isinstance(value, list):
        return []
    return [v.rstrip("/") for v in value[:MAX_LISTED] if isinstance(v, str) and len(v) <= 300]


def _refresh(node: FederationNode) -> set[str]:
    anchor = anchor_of(node)
    if anchor is None:
        return set()
    listed = {anchor}
    for entity_id in _list_of(node, anchor):
        listed.add(entity_id)
        listed.update(_list_of(node, entity_id))  # a city's listing is simply empty
    return listed


def is_listed(node: FederationNode, entity_id: str, now: float | None = None) -> bool:
    """True when the anchor or one of its subordinates lists ``entity_id``."""
    entity_id = entity_id.rstrip("/")
    now = time.time() if now is None else now
    store = node.platform.store
    cached = get_json(store, _LISTING_KEY)
    fresh = isinstance(cached, dict) and isinstance(cached.get("ids"), list)
    if fresh and entity_id in cached["ids"]:
        return True
    if fresh and now - float(cached.get("at", 0)) < REFRESH_SECONDS:
        return False
    listed = _refresh(node)
    set_json(store, _LISTING_KEY, {"ids": sorted(listed), "at": now}, LISTING_SECONDS)
    return entity_id in listed
