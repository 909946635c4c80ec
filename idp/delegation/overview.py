"""What the account centre and the JSON API show about delegated authority (R-42, R-54).

Read-only helpers shared by `idp.delegation.api` and `idp.web.delegation`: the legal
persons a person deals with, the people in a tree as masked names and phones, the service
items a person may offer in a new grant, and a client's access policy.

Service items: a client's offered items are ``*`` (the whole department system) and the
service items it declares (issue 4 item 7, `idp.oidc.service_items`); a client that
declares none offers its registered OAuth scopes, as before items existed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.crypto import mask_name, mask_phone
from idp.delegation.errors import DelegationError
from idp.delegation.models import MAX_LEVEL, WHOLE_CLIENT, Grant, GrantStatus
from idp.delegation.scope import Scope
from idp.delegation.tree import LIVE, bounds, chain_of
from idp.oidc import service_items
from idp.oidc.models import Client
from idp.orgs.models import LegalPerson
from idp.ratelimit import Limit, RateLimiter

ROLE_REPRESENTATIVE = "representative"
ROLE_DELEGATE = "delegate"


@dataclass(frozen=True)
class OrgSummary:
    """A legal person as listed in "my enterprises"."""

    id: int
    credit_code: str
    name: str
    kind: str
    status: str
    role: str  # representative, or delegate (holds or gave a live grant)


@dataclass(frozen=True)
class PersonSummary:
    """A person as others see them in a tree: masked, never the ID number."""

    sub: str
    name: str
    phone: str


@dataclass(frozen=True)
class ClientItems:
    """One department system and the service items that may be granted at it."""

    client_id: str
    name: str
    items: tuple[str, ...]  # ``*`` first when the whole system may be granted
    # Declared items' names, code → (zh-CN, English) (issue 4 item 7): what pages show.
    names: dict[str, tuple[str, str]] = field(default_factory=dict)


def my_orgs(session: Session, person_id: int) -> list[OrgSummary]:
    """Legal persons the person represents, or holds or gave a live grant for."""
    represented = set(session.scalars(select(LegalPerson.id).where(
        LegalPerson.representative_person_id == person_id)))
    delegated = set(session.scalars(select(Grant.legal_person_id).where(
        Grant.status.in_(LIVE),
        (Grant.grantee_person_id == person_id) | (Grant.grantor_person_id == person_id))))
    ids = represented | delegated
    if not ids:
        return []
    orgs = session.scalars(select(LegalPerson).where(LegalPerson.id.in_(ids))
                           .order_by(LegalPerson.name, LegalPerson.id))
    return [OrgSummary(o.id, o.credit_code, o.name, o.kind, o.status,
                       ROLE_REPRESENTATIVE if o.id in represented else ROLE_DELEGATE)
            for o in orgs]


def people(session: Session, accounts: Accounts, subs: set[str]) -> dict[str, PersonSummary]:
    """Masked name and phone of each person in ``subs`` (one query)."""
    if not subs:
        return {}
    found = session.scalars(select(Person).where(Person.sub.in_(subs)))
    return {p.sub: summary(accounts, p) for p in found}


def summary(accounts: Accounts, person: Person) -> PersonSummary:
    phone = accounts.phone(person)
    return PersonSummary(person.sub, mask_name(accounts.name(person)),
                         mask_phone(phone) if phone else "")


def client_items(client: Client) -> tuple[str, ...]:
    """The service items a client offers: ``*`` plus its declared items (module doc)."""
    return service_items.offered(client)


def offered_items(session: Session, org: LegalPerson, person_id: int,
                  parent_grant_id: int | None) -> list[ClientItems]:
    """What the person may put in a new grant: every enabled client for the
    representative's level-1 grants; for a re-delegation, the parent chain's effective
    scope (empty when the person does not hold that grant, or it is not active or
    may not be delegated further)."""
    clients = {c.client_id: c for c in session.scalars(
        select(Client).where(Client.disabled.is_(False)).order_by(Client.name))}
    if parent_grant_id is None:
        if person_id != org.representative_person_id:
            return []
        return [ClientItems(c.client_id, c.name, client_items(c), service_items.names(c))
                for c in clients.values()]
    parent = session.get(Grant, parent_grant_id)
    if (parent is None or parent.legal_person_id != org.id
            or parent.grantee_person_id != person_id
            or parent.status != GrantStatus.ACTIVE.value
            or not parent.may_redelegate or parent.level >= MAX_LEVEL):
        return []
    return _within(bounds(chain_of(session, parent)).scope, clients)


def _within(scope: Scope, clients: dict[str, Client]) -> list[ClientItems]:
    offered = []
    for client_id, held in sorted(scope.items.items()):
        client = clients.get(client_id)
        if client is None:  # a client since disabled or removed: nothing to offer there
            continue
        items = client_items(client) if WHOLE_CLIENT in held else tuple(sorted(held))
        offered.append(ClientItems(client_id, client.name, items,
                                   service_items.names(client)))
    return offered


def client_names(session: Session, client_ids: set[str]) -> dict[str, str]:
    if not client_ids:
        return {}
    return dict(session.execute(select(Client.client_id, Client.name)
                                .where(Client.client_id.in_(client_ids))).all())


# Refusal codes (errors.py, orgs/service.py) as HTTP statuses: 403 the caller may not do
# it (beyond their own authority included), 404 unknown, 409 conflicts with the current
# state, 422 invalid input. Pages and the JSON API answer the same status.
STATUS_BY_CODE: dict[str, int] = {
    "org_not_found": 404, "grant_not_found": 404, "person_not_found": 404,
    "not_authorised": 403, "redelegation_not_allowed": 403, "level_exceeded": 403,
    "scope_exceeds": 403, "validity_exceeds": 403,
    "org_inactive": 409, "person_inactive": 409, "duplicate": 409, "grant_not_active": 409,
    "not_pending": 409, "not_under_review": 409,
    "self_grant": 422, "cycle": 422, "invalid_validity": 422, "empty_scope": 422,
    "invalid_scope": 422, "invalid_deadline": 422, "unknown_service_item": 422,
}


def status_for(code: str) -> int:
    return STATUS_BY_CODE.get(code, 422)


PERSON_NOT_FOUND = ("未找到该实名注册用户,请核对证件号码或手机号",
                    "No registered person with this ID number or phone")
LOOKUPS_LIMITED = ("查找人员过于频繁,请稍后再试", "Too many look-ups; try again later")


def check_known_items(session: Session, scope: Scope) -> None:
    """Refuse unknown or disabled clients (``invalid_scope``) and items a client does not
    offer (``unknown_service_item``); checked on writes, rules check the rest."""
    clients = {c.client_id: c for c in session.scalars(
        select(Client).where(Client.client_id.in_(set(scope.items)),
                             Client.disabled.is_(False)))}
    for client_id, items in scope.items.items():
        client = clients.get(client_id)
        if client is None:
            raise DelegationError("invalid_scope")
        if not items <= set(client_items(client)):
            raise DelegationError("unknown_service_item")

# Naming a grantee reveals a masked name: bounded per person like any guessable lookup.
GRANTEE_LOOKUPS = Limit("delegation-lookup", 30, 3600)


def lookup_allowed(limiter: RateLimiter, person_id: int) -> int:
    """Count one grantee lookup; 0 when allowed, else the seconds until the next one."""
    if limiter.hit(GRANTEE_LOOKUPS, str(person_id)):
        return 0
    return max(1, limiter.resets_in(GRANTEE_LOOKUPS, str(person_id)))


def all_items(session: Session) -> list[ClientItems]:
    """Every enabled client and its items: what an application may ask for."""
    clients = session.scalars(
        select(Client).where(Client.disabled.is_(False)).order_by(Client.name))
    return [ClientItems(c.client_id, c.name, client_items(c), service_items.names(c))
            for c in clients]
