"""Register the children this node vouches for (OIDF §3.1.1; `idp federation add-child`).

A child's keys reach its parent out of band (a file, or fetched once from the child and
checked by thumbprint); from then on the parent's statements carry them to everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit import service as audit
from idp.federation import entity
from idp.federation.entity import StatementError
from idp.federation.models import Subordinate
from idp.federation.regions import RegionError, check_code, child_level, within
from idp.federation.trust import TrustError, check_entity_id


class ChildError(ValueError):
    """The child cannot be registered as asked (reason in the message)."""


@dataclass(frozen=True)
class ChildView:
    entity_id: str
    node_level: str
    region: str
    thumbprints: list[str]
    active: bool


def _check_jwks(jwks: Any) -> dict[str, Any]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ChildError("the child's keys must be a JWKS object")
    if any(not isinstance(k, dict) or "d" in k for k in jwks["keys"]):
        raise ChildError("the child's JWKS must hold public keys only")
    try:
        keys = entity.import_jwks(jwks)
    except StatementError as exc:
        raise ChildError(f"the child's JWKS is unusable: {exc}") from exc
    if any(k.key_type != "EC" or not k.kid for k in keys.keys):
        raise ChildError("federation keys must be EC P-256 keys with a kid")
    return {"keys": [dict(k) for k in jwks["keys"]]}


def thumbprints(jwks: dict[str, Any]) -> list[str]:
    """RFC 7638 thumbprints, for operators to compare out of band."""
    return [k.thumbprint() for k in entity.import_jwks(jwks).keys]


def add_child(session: Session, *, own_level: str, own_region: str, entity_id: str,
              region: str, jwks: Any, actor: str, allow_http: bool = False) -> ChildView:
    """Create or update a child: one level below us, inside our region (R-62)."""
    level = child_level(own_level) if own_level else None
    if level is None:
        raise ChildError("this node cannot have children (a city, or not federated)")
    try:
        check_entity_id(entity_id, allow_http=allow_http)
        check_code(region)
    except (TrustError, RegionError) as exc:
        raise ChildError(str(exc)) from exc
    if region == own_region or not within(region, own_region):
        raise ChildError(f"region {region} is not inside this node's region {own_region}")
    keys = _check_jwks(jwks)
    child = session.scalars(select(Subordinate).where(
        Subordinate.entity_id == entity_id)).one_or_none()
    if child is None:
        child = Subordinate(entity_id=entity_id, node_level=level, region=region, jwks=keys)
        session.add(child)
    else:
        child.region, child.jwks, child.node_level, child.active = region, keys, level, True
    session.flush()
    audit.record(session, actor=actor, action="federation:child:add", target=entity_id,
                 details={"region": region, "level": level, "keys": thumbprints(keys)})
    return _view(child)


def remove_child(session: Session, entity_id: str, actor: str) -> bool:
    """Stop vouching for a child: the fetch endpoint answers 404 from now on."""
    child = session.scalars(select(Subordinate).where(
        Subordinate.entity_id == entity_id)).one_or_none()
    if child is None or not child.active:
        return False
    child.active = False
    audit.record(session, actor=actor, action="federation:child:remove", target=entity_id)
    return True


def list_children(session: Session) -> list[ChildView]:
    rows = session.scalars(select(Subordinate).order_by(Subordinate.entity_id))
    return [_view(r) for r in rows]


def _view(child: Subordinate) -> ChildView:
    return ChildView(child.entity_id, child.node_level, child.region,
                     thumbprints(child.jwks), child.active)
