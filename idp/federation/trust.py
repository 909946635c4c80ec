"""Trust chain resolution and validation (OpenID Federation 1.0 §10).

Starting from a leaf's entity configuration, follow ``authority_hints`` upwards, fetching
each superior's entity configuration and the subordinate statement it issues about the
entity below, until an entity whose configuration verifies with the configured trust anchor
keys. Then validate the whole chain (§10.2): every statement within its lifetime, each
statement signed by a key that the statement above it vouches for, the top one by the
anchor's configured keys, constraints honoured, metadata policies merged and applied.

Results are cached in the Store no longer than the earliest ``exp`` in the chain. Callers
that resolve on a request's behalf (set_receiver.py) ask for failures to be cached too
(``remember_failure``, `FAILURE_SECONDS`), so a bad entity id cannot make every request a
fetch; our own deliveries do not, so a node that comes back is reached at once.
Entity ids and every URL fetched must be https unless ``IDP_FEDERATION_ALLOW_HTTP`` (loopback
development and tests) — callers decide *whether* an entity may be resolved at all
(known.py), this module only how.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from idp.federation import entity, policy
from idp.federation.entity import EntityStatement, StatementError
from idp.federation.regions import RegionError, check_code, within
from idp.store import Store, get_json, set_json

log = logging.getLogger(__name__)

MAX_DEPTH = 5  # superiors followed from a leaf before giving up
MAX_HINTS = 3  # authority hints tried per entity
CACHE_MAX_SECONDS = 3600
FAILURE_SECONDS = 30  # a failed resolution is not retried sooner (negative cache)
_CACHE_PREFIX = "fed:chain:"
_FAILED_PREFIX = "fed:chain-failed:"


class TrustError(Exception):
    """No valid trust chain from the entity to the trust anchor (reason in the message)."""


def check_entity_id(entity_id: object, *, allow_http: bool = False) -> str:
    """An entity identifier is an https URL without query or fragment (OIDF §1.2); http
    only when ``allow_http`` (``IDP_FEDERATION_ALLOW_HTTP``, development and tests)."""
    if not isinstance(entity_id, str) or len(entity_id) > 300:
        raise TrustError("entity identifier must be a URL")
    parts = urlsplit(entity_id)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.netloc or parts.query or parts.fragment \
            or parts.username is not None or parts.password is not None:
        raise TrustError("entity identifier must be an https URL without query")
    return entity_id


@dataclass(frozen=True)
class TrustChain:
    """A validated chain: the leaf's vouched-for keys and policy-applied metadata."""

    entity_id: str
    path: list[str]  # leaf first, trust anchor last
    jwks: dict[str, Any]  # the leaf's keys as its superior vouches for them
    metadata: dict[str, Any]
    region: str
    node_level: str
    exp: int

    @property
    def anchor(self) -> str:
        return self.path[-1]


class LocalEntity(Protocol):
    """This node, so that a chain through ourselves needs no HTTP call to ourselves."""

    entity_id: str

    def entity_configuration(self) -> str: ...

    def subordinate_statement(self, sub: str) -> str | None: ...


class Fetcher:
    """Fetch statements over HTTP with timeouts (OIDF §9, §8.1)."""

    def __init__(self, http: requests.Session, timeout: float = 5.0,
                 local: LocalEntity | None = None, allow_http: bool = False) -> None:
        self.http = http
        self.timeout = timeout
        self.local = local
        self.allow_http = allow_http

    def _get(self, url: str, params: dict[str, str] | None = None) -> str:
        # Endpoints come from statements: held to the same scheme rule as entity ids.
        if urlsplit(url).scheme != "https" and not (self.allow_http
                                                    and url.startswith("http://")):
            raise TrustError("federation endpoints must be https")
        try:
            resp = self.http.get(url, params=params, timeout=self.timeout,
                                 allow_redirects=False)
        except requests.RequestException as exc:
            raise TrustError(f"{url} unreachable") from exc
        if resp.status_code != 200:
            raise TrustError(f"{url} answered {resp.status_code}")
        if len(resp.content) > entity.MAX_TOKEN_BYTES:
            raise TrustError(f"{url} answered too much")
        return resp.text.strip()

    def entity_configuration(self, entity_id: str) -> str:
        if self.local and entity_id == self.local.entity_id:
            return self.local.entity_configuration()
        return self._get(entity_id.rstrip("/") + entity.WELL_KNOWN)

    def subordinate_statement(self, superior: EntityStatement, sub: str) -> str:
        if self.local and superior.sub == self.local.entity_id:
            token = self.local.subordinate_statement(sub)
            if token is None:
                raise TrustError(f"{sub} is not a subordinate of {superior.sub}")
            return token
        endpoint = superior.metadata.get("federation_entity", {}).get(
            "federation_fetch_endpoint")
        if not isinstance(endpoint, str):
            raise TrustError(f"{superior.sub} publishes no fetch endpoint")
        return self._get(endpoint, {"sub": sub})


class TrustResolver:
    """Resolve and validate trust chains to the configured anchor, with a Store cache."""

    def __init__(self, fetcher: Fetcher, anchor_jwks: Callable[[], dict[str, Any]],
                 store: Store, clock: Callable[[], float] = time.time) -> None:
        self.fetcher = fetcher
        self._anchor_jwks = anchor_jwks
        self._store = store
        self.clock = clock

    def resolve(self, entity_id: str, *, remember_failure: bool = False) -> TrustChain:
        """Return a valid chain from ``entity_id`` to the anchor, or raise `TrustError`."""
        check_entity_id(entity_id, allow_http=self.fetcher.allow_http)
        digest = hashlib.sha256(entity_id.encode()).hexdigest()
        key = _CACHE_PREFIX + digest
        cached = get_json(self._store, key)
        if cached and cached.get("exp", 0) > self.clock():
            return TrustChain(**cached)
        failed = self._store.get(_FAILED_PREFIX + digest) if remember_failure else None
        if isinstance(failed, str):
            raise TrustError(f"recently failed: {failed}")
        try:
            chain = self._build(entity_id)
        except (TrustError, StatementError, policy.PolicyError, RegionError) as exc:
            if remember_failure:
                self._store.set(_FAILED_PREFIX + digest, str(exc)[:300], FAILURE_SECONDS)
            raise TrustError(str(exc)) from exc
        ttl = int(min(chain.exp - self.clock(), CACHE_MAX_SECONDS))
        if ttl > 0:
            set_json(self._store, key, dataclasses.asdict(chain), ttl)
        return chain

    def forget(self, entity_id: str) -> None:
        digest = hashlib.sha256(entity_id.encode()).hexdigest()
        self._store.delete(_CACHE_PREFIX + digest)
        self._store.delete(_FAILED_PREFIX + digest)

    # -- building ----------------------------------------------------------------------------

    def _configuration(self, entity_id: str) -> EntityStatement:
        ec = entity.parse(self.fetcher.entity_configuration(entity_id))
        if ec.iss != entity_id or ec.sub != entity_id:
            raise TrustError(f"entity configuration of {entity_id} names another entity")
        entity.verify(ec, ec.jwks)  # self-signed (§3.2); vouched for in _validate
        return ec

    def _is_anchor(self, ec: EntityStatement) -> bool:
        try:
            entity.verify(ec, self._anchor_jwks())
        except StatementError:
            return False
        return True

    def _build(self, entity_id: str) -> TrustChain:
        leaf = self._configuration(entity_id)
        if self._is_anchor(leaf):
            return self._validate([leaf], [])
        ecs, subs = self._extend([leaf], [])
        return self._validate(ecs, subs)

    def _extend(self, ecs: list[EntityStatement],
                subs: list[EntityStatement]) -> tuple[list[EntityStatement], list[EntityStatement]]:
        """Climb one level (trying each hint); recurse until the anchor."""
        current = ecs[-1]
        if len(subs) >= MAX_DEPTH:
            raise TrustError("trust chain too long")
        hints = current.authority_hints[:MAX_HINTS]
        if not hints:
            raise TrustError(f"{current.sub} does not chain to the trust anchor")
        failures: list[str] = []
        for hint in hints:
            if any(ec.sub == hint for ec in ecs):
                failures.append(f"loop at {hint}")
                continue
            try:
                check_entity_id(hint, allow_http=self.fetcher.allow_http)
                superior = self._configuration(hint)
                statement = entity.parse(self.fetcher.subordinate_statement(superior,
                                                                            current.sub))
                if statement.iss != superior.sub or statement.sub != current.sub:
                    raise TrustError(f"{hint} returned a statement about another entity")
                if self._is_anchor(superior):
                    return [*ecs, superior], [*subs, statement]
                return self._extend([*ecs, superior], [*subs, statement])
            except (TrustError, StatementError) as exc:
                failures.append(str(exc))
        raise TrustError("; ".join(failures))

    # -- validation (§10.2) ---------------------------------------------------------------

    def _validate(self, ecs: list[EntityStatement],
                  subs: list[EntityStatement]) -> TrustChain:
        now = self.clock()
        anchor_jwks = self._anchor_jwks()
        for statement in [*ecs, *subs]:
            entity.check_times(statement, now)
        entity.verify(ecs[-1], anchor_jwks)
        for i, sub in enumerate(subs):
            # Each entity's configuration and each statement are signed by keys the
            # statement one level up vouches for; the top one by the anchor's own keys.
            entity.verify(ecs[i], sub.jwks)
            entity.verify(sub, subs[i + 1].jwks if i + 1 < len(subs) else anchor_jwks)
        regions = [_region_of(ec) for ec in ecs]
        for i, sub in enumerate(subs):
            if not within(regions[i], regions[i + 1]):
                raise TrustError(f"{ecs[i].sub} claims region {regions[i]} outside "
                                 f"{ecs[i + 1].sub}'s region {regions[i + 1]}")
            policy.check_constraints(sub.constraints, i, regions[: i + 1], sub.iss)
        merged = policy.merge([s.metadata_policy for s in reversed(subs)])
        metadata = policy.apply(ecs[0].metadata, merged)
        fed = metadata.get("federation_entity", {})
        return TrustChain(entity_id=ecs[0].sub, path=[ec.sub for ec in ecs],
                          jwks=subs[0].jwks if subs else anchor_jwks, metadata=metadata,
                          region=regions[0], node_level=str(fed.get("node_level", "")),
                          exp=min(s.exp for s in [*ecs, *subs]))


def _region_of(ec: EntityStatement) -> str:
    fed = ec.metadata.get("federation_entity")
    region = fed.get("region") if isinstance(fed, dict) else None
    try:
        return check_code(region)
    except RegionError as exc:
        raise TrustError(f"{ec.sub} publishes no valid region") from exc
