"""The most restrictive policy over every client a token passed through (RFC 8693 ``act``).

A token obtained by exchange names its audience (the target), the requester
(``client_id``) and, in ``act``, every system that exchanged it on the way. Personal data
released for it must be data *each* of them could get itself (issue 4 item 6; DESIGN.md
"Personal data"): the scope is cut to what every one of them registered, and ``idcard``
(the full document number) survives only when every one of them is allowed it. Otherwise a
system without ``allow_idcard`` could read full ID numbers by exchanging for a target that
has it and calling userinfo with the new token itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from idp.oidc.models import Client

IDCARD = "idcard"


def parties(claims: dict[str, Any]) -> list[str]:
    """Client ids the token names: ``aud``, ``client_id`` and every ``act`` subject, in
    order, each once."""
    found: list[str] = []
    act: object = claims.get("act")
    names: list[object] = [claims.get("aud"), claims.get("client_id")]
    while isinstance(act, dict):
        names.append(act.get("sub"))
        act = act.get("act")
    for name in names:
        if isinstance(name, str) and name and name not in found:
            found.append(name)
    return found


def actor_chain(claims: dict[str, Any]) -> list[str]:
    """The ``act`` subjects, most recent first (for audit records)."""
    chain: list[str] = []
    act: object = claims.get("act")
    while isinstance(act, dict):
        chain.append(str(act.get("sub", ""))[:64])
        act = act.get("act")
    return chain


def resolve(names: Iterable[str], lookup: Callable[[str], Client | None]
            ) -> list[Client] | None:
    """The named clients, or None when any is unknown or disabled (the token then dies)."""
    found = []
    for name in names:
        client = lookup(name)
        if client is None:
            return None
        found.append(client)
    return found


def restrict(scope: Iterable[str], clients: Iterable[Client]) -> list[str]:
    """``scope`` cut to what every client registered; ``idcard`` only if all allow it."""
    clients = list(clients)
    return [s for s in scope
            if all(s in c.scope_set for c in clients)
            and (s != IDCARD or all(c.allow_idcard for c in clients))]
