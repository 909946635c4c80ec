"""Acting for a legal person in one authorization (issue 4 item 5; R-42, R-54).

The choice ("myself" or one legal person) is made per authorization, never for the whole
SSO session: it travels with the login transaction, the authorization code, the refresh
token row and — encrypted, in the private ``actx`` claim — the access token, as an
`ActingRef`: which legal person, which grant (None for the representative), and the
items and chain the tokens were issued with.

Enforcement is live: every code redemption, refresh, userinfo and introspection of a token
that carries authority recomputes it with `authority_of` and refuses it when it ended, no
longer covers the client, was narrowed below the issued items, or now runs through other
people (a change of representative). Natural-person tokens never reach this module.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from idp.crypto import DataProtector, DecryptionError
from idp.delegation.authority import Authority, authority_of, grants_for_client
from idp.delegation.models import WHOLE_CLIENT
from idp.oidc.models import Client
from idp.oidc.subject import subject_for

LEGAL_ACTING = "legal_acting"
NATURAL = "natural"
CLAIMS = ("org", "authority")
_ACTX = "oidc.access_token.acting"
MAX_HINT_LENGTH = 32


@dataclass(frozen=True)
class ActingRef:
    """What an authorization acts under, as issued (JSON-safe via `asdict`)."""

    legal_person_id: int
    grant_id: int | None
    items: tuple[str, ...]
    chain: tuple[int, ...]  # person ids, representative first

    @classmethod
    def of(cls, authority: Authority) -> ActingRef:
        return cls(authority.legal_person_id, authority.grant_id, tuple(authority.items),
                   tuple(link.person_id for link in authority.chain))

    @classmethod
    def load(cls, data: object) -> ActingRef | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(int(data["legal_person_id"]),
                       None if data["grant_id"] is None else int(data["grant_id"]),
                       tuple(str(i) for i in data["items"]),
                       tuple(int(p) for p in data["chain"]))
        except (KeyError, TypeError, ValueError):
            return None

    def dump(self) -> dict[str, Any]:
        return {**asdict(self), "items": list(self.items), "chain": list(self.chain)}


@dataclass(frozen=True)
class Acting:
    """An authorization's live authority: the reference, what it resolves to now, and the
    ``org``/``authority`` claims as the client sees them."""

    ref: ActingRef
    authority: Authority
    claims: dict[str, Any]

    @classmethod
    def of(cls, authority: Authority, client: Client, secret_key: str) -> Acting:
        return cls(ActingRef.of(authority), authority, claims(authority, client, secret_key))


def serves_acting(client: Client) -> bool:
    return LEGAL_ACTING in (client.allowed_account_kinds or [NATURAL])


def serves_natural(client: Client) -> bool:
    return NATURAL in (client.allowed_account_kinds or [NATURAL])


def options(session: Session, person_id: int, client_id: str) -> list[Authority]:
    """The legal persons the person may act for at this client, now (covering only)."""
    return grants_for_client(session, person_id, client_id)


def by_hint(found: list[Authority], hint: str | None) -> Authority | None:
    """The option named by ``org_hint`` (a unified social credit code), if any."""
    if not hint or len(hint) > MAX_HINT_LENGTH:
        return None
    wanted = hint.strip().upper()
    return next((a for a in found if a.credit_code == wanted), None)


def _covers(current: tuple[str, ...], issued: tuple[str, ...]) -> bool:
    return WHOLE_CLIENT in current or set(issued) <= set(current)


def recheck(session: Session, person_id: int, ref: ActingRef, client_id: str,
            at: dt.datetime | None = None) -> Authority | None:
    """The authority ``ref`` stands for, if it still holds unchanged or wider; else None."""
    for authority in authority_of(session, person_id, ref.legal_person_id, client_id, at):
        if authority.grant_id != ref.grant_id:
            continue
        if tuple(link.person_id for link in authority.chain) != ref.chain:
            return None  # another representative: re-authorize to see the new chain
        return authority if _covers(authority.items, ref.items) else None
    return None


def resolve(session: Session, person_id: int, data: object, client: Client,
            secret_key: str) -> Acting | None:
    """A stored reference (code, refresh token) re-checked for ``client``; None: refused."""
    ref = ActingRef.load(data)
    authority = ref and recheck(session, person_id, ref, client.client_id)
    return None if ref is None or authority is None else \
        Acting(ref, authority, claims(authority, client, secret_key))


def claims(authority: Authority, client: Client, secret_key: str) -> dict[str, Any]:
    """The ``org`` and ``authority`` claims (the fixed contract of issue 4 item 5)."""
    until = authority.valid_until
    return {
        "org": {"credit_code": authority.credit_code, "name": authority.name,
                "type": authority.kind},
        "authority": {
            "role": authority.role, "level": authority.level,
            "chain": [{"level": link.level, "sub": subject_for(client, link.sub, secret_key)}
                      for link in authority.chain],
            "items": list(authority.items),
            "valid_until": int(until.timestamp()) if until is not None else None,
        },
    }


def seal(protector: DataProtector, ref: ActingRef) -> str:
    """The private ``actx`` claim: the reference, encrypted (grant ids and person ids stay
    with the platform; a bare person id would link pairwise subjects)."""
    return protector.encrypt(json.dumps(ref.dump(), separators=(",", ":")), _ACTX)


def unseal(protector: DataProtector, value: object) -> ActingRef | None:
    try:
        return ActingRef.load(json.loads(protector.decrypt(str(value), _ACTX)))
    except (DecryptionError, ValueError):
        return None


def live_claims(session: Session, protector: DataProtector, secret_key: str,
                token_claims: dict[str, Any], person_id: int | None,
                client: Client | None) -> dict[str, Any] | None:
    """For a verified access token: ``{}`` when it acts for nobody, the fresh ``org`` and
    ``authority`` claims when its authority still holds, None when it must be refused."""
    if "actx" not in token_claims:
        return {}
    ref = unseal(protector, token_claims["actx"])
    if ref is None or person_id is None or client is None:
        return None
    authority = recheck(session, person_id, ref, client.client_id)
    return None if authority is None else claims(authority, client, secret_key)
