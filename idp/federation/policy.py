"""Metadata policy and constraints along a trust chain (OpenID Federation 1.0 §6).

Policies of every subordinate statement in a chain are merged, superior first, and applied
to the leaf's metadata (§6.1.4). Constraints limit what is below the entity that sets them
(§6.2): ``max_path_length`` and our own naming constraint ``allowed_regions`` — the GB/T 2260
divisions a child (and everything under it) may claim, which is how a region is delegated.
"""

from __future__ import annotations

import copy
from typing import Any

from idp.federation.regions import RegionError, check_code, within_any

OPERATORS = ("value", "add", "default", "one_of", "subset_of", "superset_of", "essential")


class PolicyError(ValueError):
    """Policies that cannot be merged, metadata that violates them, or a broken constraint."""


def _as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise PolicyError(f"{where} must be a list")
    return value


def _merge_operator(op: str, upper: Any, lower: Any, where: str) -> Any:
    """Combine one operator from a superior (``upper``) with a subordinate's (§6.1.4.1)."""
    if op in ("value", "default"):
        if upper != lower:
            raise PolicyError(f"conflicting {op} for {where}")
        return upper
    if op == "essential":
        return bool(upper) or bool(lower)
    a, b = _as_list(upper, where), _as_list(lower, where)
    if op in ("add", "superset_of"):
        return list(dict.fromkeys([*a, *b]))
    merged = [x for x in a if x in b]  # one_of, subset_of: intersection
    if op == "one_of" and not merged:
        raise PolicyError(f"no allowed value left for {where}")
    return merged


def merge(policies: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge metadata policies ordered from the trust anchor down to the leaf's superior."""
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for policy in policies:
        for entity_type, params in policy.items():
            if not isinstance(params, dict):
                raise PolicyError(f"policy for {entity_type} must be an object")
            target = result.setdefault(entity_type, {})
            for name, ops in params.items():
                if not isinstance(ops, dict) or set(ops) - set(OPERATORS):
                    raise PolicyError(f"unknown policy operator for {entity_type}.{name}")
                current = target.setdefault(name, {})
                for op, value in ops.items():
                    where = f"{entity_type}.{name}"
                    current[op] = (_merge_operator(op, current[op], value, where)
                                   if op in current else copy.deepcopy(value))
    return result


def _apply_param(metadata: dict[str, Any], name: str, ops: dict[str, Any], where: str) -> None:
    if "value" in ops:
        if ops["value"] is None:
            metadata.pop(name, None)
        else:
            metadata[name] = copy.deepcopy(ops["value"])
        return
    if "add" in ops:
        metadata[name] = list(dict.fromkeys([*metadata.get(name, []), *ops["add"]]))
    if "default" in ops and name not in metadata:
        metadata[name] = copy.deepcopy(ops["default"])
    if name in metadata:
        value = metadata[name]
        if "one_of" in ops and value not in ops["one_of"]:
            raise PolicyError(f"{where} = {value!r} is not allowed by the superior's policy")
        if "subset_of" in ops:
            metadata[name] = [v for v in _as_list(value, where) if v in ops["subset_of"]]
        if "superset_of" in ops and not set(ops["superset_of"]) <= set(_as_list(value, where)):
            raise PolicyError(f"{where} lacks values the superior's policy requires")
    elif ops.get("essential"):
        raise PolicyError(f"{where} is required by the superior's policy")


def apply(metadata: dict[str, Any], merged: dict[str, Any]) -> dict[str, Any]:
    """Return the leaf's metadata with the merged policy applied (§6.1.4.2)."""
    result = copy.deepcopy(metadata)
    for entity_type, params in merged.items():
        if entity_type not in result:
            continue
        for name, ops in params.items():
            _apply_param(result[entity_type], name, ops, f"{entity_type}.{name}")
    return result


def check_constraints(constraints: dict[str, Any], intermediates_below: int,
                      regions_below: list[str], issuer: str) -> None:
    """Enforce one statement's constraints on the entities beneath its issuer (§6.2).

    ``intermediates_below`` counts intermediates between the issuer and the chain's leaf;
    ``regions_below`` are the regions claimed by the subject and every entity under it.
    """
    max_len = constraints.get("max_path_length")
    if max_len is not None:
        if type(max_len) is not int or max_len < 0:
            raise PolicyError(f"{issuer} set a malformed max_path_length")
        if intermediates_below > max_len:
            raise PolicyError(f"path longer than max_path_length {max_len} set by {issuer}")
    allowed = constraints.get("allowed_regions")
    if allowed is not None:
        try:
            scopes = [check_code(c) for c in _as_list(allowed, "allowed_regions")]
        except (RegionError, PolicyError) as exc:
            raise PolicyError(f"{issuer} set malformed allowed_regions") from exc
        for region in regions_below:
            if not within_any(region, scopes):
                raise PolicyError(f"region {region} was not delegated by {issuer}")
