"""Directory groups → console roles, from the ``IDP_LDAP_ROLE_MAP`` setting (issue 5 item 1).

The setting takes either form:

- JSON: ``{"cn=hall-clerks,ou=groups,dc=gov,dc=cn": "clerk", "auditors": ["auditor"]}``;
- pairs: ``hall-clerks=clerk; heads=department_head, auditors=auditor`` (cns only; a cn that
  holds ``=``, ``,`` or ``;`` needs the JSON form).

A key holding ``=`` is a group DN, compared ignoring case and spaces around separators;
any other key is a group cn, compared ignoring case. Empty: each role's own name is the cn
of its group (``clerk``, ``manager``, …). Unknown roles are refused when the map is built.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from idp.staff.directory import Role


class RoleMapError(ValueError):
    """The role map setting cannot be understood."""


@dataclass(frozen=True)
class Group:
    """A group the directory says a person belongs to."""

    dn: str
    cn: str


def normalize_dn(dn: str) -> str:
    """Case- and space-insensitive form of a DN for comparing configured and found DNs."""
    parts = []
    for rdn in dn.split(","):
        attr, _, value = rdn.partition("=")
        parts.append(f"{attr.strip().casefold()}={value.strip().casefold()}")
    return ",".join(parts)


def _as_roles(key: str, value: object) -> frozenset[Role]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise RoleMapError(f"role map: {key!r} must map to a role or a list of roles")
    try:
        return frozenset(Role(str(v).strip()) for v in values)
    except ValueError as exc:
        known = ", ".join(r.value for r in Role)
        raise RoleMapError(f"role map: unknown role for {key!r} (known: {known})") from exc


def _parse_pairs(text: str) -> dict[str, object]:
    mapping: dict[str, object] = {}
    for item in text.replace(";", ",").split(","):
        if not item.strip():
            continue
        key, sep, role = item.rpartition("=")
        if not sep or not key.strip():
            raise RoleMapError(f"role map: {item.strip()!r} is not cn=role")
        mapping.setdefault(key.strip(), [])
        mapping[key.strip()].append(role.strip())  # type: ignore[attr-defined]
    return mapping


class RoleMap:
    """Which roles a set of groups grants."""

    def __init__(self, mapping: dict[str, frozenset[Role]]) -> None:
        self._by_dn: dict[str, frozenset[Role]] = {}
        self._by_cn: dict[str, frozenset[Role]] = {}
        for key, roles in mapping.items():
            # Keys equal but for case or spacing name one group: their roles add up.
            table, norm = ((self._by_dn, normalize_dn(key)) if "=" in key
                           else (self._by_cn, key.casefold()))
            table[norm] = table.get(norm, frozenset()) | roles

    @classmethod
    def parse(cls, text: str) -> RoleMap:
        """Build the map from the setting's text; `RoleMapError` says what is wrong."""
        text = text.strip()
        if not text:
            return cls({r.value: frozenset({r}) for r in Role})
        if text.startswith(("{", "[")):
            try:
                raw = json.loads(text)
            except ValueError as exc:
                raise RoleMapError("role map: not valid JSON") from exc
            if not isinstance(raw, dict):
                raise RoleMapError("role map: JSON must be an object")
        else:
            raw = _parse_pairs(text)
        return cls({str(k).strip(): _as_roles(str(k), v) for k, v in raw.items()})

    def roles_for(self, groups: Iterable[Group]) -> frozenset[Role]:
        """The union of the roles every group grants, by DN or by cn."""
        roles: set[Role] = set()
        for group in groups:
            roles |= self._by_dn.get(normalize_dn(group.dn), frozenset())
            roles |= self._by_cn.get(group.cn.casefold(), frozenset())
        return frozenset(roles)
