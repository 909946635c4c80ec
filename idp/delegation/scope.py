"""Scopes of authority: sets of (client, service item) with ``*`` for a whole client (R-42).

Pure values, no database. ``(c, "*")`` covers every item of client ``c``; a scope never
mentions items of a client it holds whole (they are folded into ``*``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from idp.delegation.errors import DelegationError
from idp.delegation.models import WHOLE_CLIENT

_CLIENT = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_ITEM = re.compile(r"[A-Za-z0-9._:/\-]{1,128}|\*")
MAX_ITEMS = 200


@dataclass(frozen=True)
class Scope:
    """An immutable map client_id → frozenset of items (``{"*"}`` for the whole client)."""

    items: Mapping[str, frozenset[str]]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]] | Scope) -> Scope:
        """Validate and normalise ``[(client_id, item), …]``; refuse bad or empty input."""
        if isinstance(pairs, Scope):
            return pairs
        try:
            pairs = list(pairs)
        except TypeError:
            raise DelegationError("invalid_scope") from None
        if not pairs:
            raise DelegationError("empty_scope")
        if len(pairs) > MAX_ITEMS:
            raise DelegationError("invalid_scope")
        found: dict[str, set[str]] = {}
        for pair in pairs:
            if not (isinstance(pair, tuple | list) and len(pair) == 2
                    and all(isinstance(p, str) for p in pair)
                    and _CLIENT.fullmatch(pair[0]) and _ITEM.fullmatch(pair[1])):
                raise DelegationError("invalid_scope")
            found.setdefault(pair[0], set()).add(pair[1])
        return cls._folded(found)

    @classmethod
    def _folded(cls, found: Mapping[str, Iterable[str]]) -> Scope:
        folded = {}
        for client, items in found.items():
            items = frozenset(items)
            if items:
                folded[client] = frozenset({WHOLE_CLIENT}) if WHOLE_CLIENT in items else items
        return cls(folded)

    def __bool__(self) -> bool:
        return bool(self.items)

    def pairs(self) -> list[tuple[str, str]]:
        return sorted((c, i) for c, items in self.items.items() for i in items)

    def covers_client(self, client_id: str) -> bool:
        return client_id in self.items

    def covers(self, client_id: str, item: str) -> bool:
        held = self.items.get(client_id, frozenset())
        return WHOLE_CLIENT in held or item in held

    def within(self, other: Scope) -> bool:
        """True if every item of this scope is covered by ``other``."""
        for client, items in self.items.items():
            held = other.items.get(client)
            if held is None:
                return False
            if WHOLE_CLIENT in held:
                continue
            if WHOLE_CLIENT in items or not items <= held:
                return False
        return True

    def intersect(self, other: Scope) -> Scope:
        """What both scopes cover: the effective authority along a chain."""
        out: dict[str, frozenset[str]] = {}
        for client in self.items.keys() & other.items.keys():
            mine, theirs = self.items[client], other.items[client]
            if WHOLE_CLIENT in mine:
                out[client] = theirs
            elif WHOLE_CLIENT in theirs:
                out[client] = mine
            else:
                out[client] = mine & theirs
        return Scope._folded(out)

    def for_client(self, client_id: str) -> Scope:
        return Scope._folded({client_id: self.items.get(client_id, frozenset())})

    def overlaps(self, other: Scope) -> bool:
        return bool(self.intersect(other))
