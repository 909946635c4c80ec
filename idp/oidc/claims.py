"""Claims released per scope: one function per scope (issue 2 item 6, DESIGN.md step 5).

Choices (documented in docs and tested):
- ``profile``: the masked name only (``张*``) — a department needing the real name asks for
  ``realname``.
- ``phone``: the bound phone in E.164 (``+8613800138000``) with ``phone_number_verified``
  true — a phone is bound only after an SMS check or an in-person check at a counter.
- ``realname``: full name, document type, masked document number, real-name level.
- ``idcard``: the full document number, only for clients with ``allow_idcard``; every
  release is audited by the caller (`userinfo`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.crypto import mask_id_number, mask_name
from idp.oidc.models import Client

SUPPORTED_SCOPES = ("openid", "profile", "phone", "realname", "idcard", "offline_access")
SUPPORTED_CLAIMS = ("sub", "name", "phone_number", "phone_number_verified", "id_type",
                    "id_number", "id_number_masked", "realname_level", "acr", "amr",
                    "auth_time", "sid", "iss", "aud", "exp", "iat", "nonce",
                    "org", "authority")  # acting for a legal person (oidc/acting.py)


@dataclass
class ClaimContext:
    accounts: Accounts
    person: Person
    client: Client


def profile(ctx: ClaimContext) -> dict[str, Any]:
    return {"name": mask_name(ctx.accounts.name(ctx.person))}


def phone(ctx: ClaimContext) -> dict[str, Any]:
    number = ctx.accounts.phone(ctx.person)
    if not number:
        return {}
    return {"phone_number": f"+86{number}", "phone_number_verified": True}


def realname(ctx: ClaimContext) -> dict[str, Any]:
    return {"name": ctx.accounts.name(ctx.person), "id_type": ctx.person.id_type,
            "id_number_masked": mask_id_number(ctx.accounts.id_number(ctx.person)),
            "realname_level": ctx.person.realname_level}


def idcard(ctx: ClaimContext) -> dict[str, Any]:
    if not ctx.client.allow_idcard:
        return {}
    return {"id_type": ctx.person.id_type, "id_number": ctx.accounts.id_number(ctx.person)}


SCOPE_CLAIMS: dict[str, Callable[[ClaimContext], dict[str, Any]]] = {
    "profile": profile, "phone": phone, "realname": realname, "idcard": idcard,
}


def claims_for(ctx: ClaimContext, scope: str) -> dict[str, Any]:
    """The claims of every granted scope; later scopes win (``realname`` over ``profile``)."""
    result: dict[str, Any] = {}
    for name in ("profile", "phone", "realname", "idcard"):
        if name in scope.split():
            result.update(SCOPE_CLAIMS[name](ctx))
    return result
