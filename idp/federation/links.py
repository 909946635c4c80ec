"""Federated accounts: who a visiting person is at home, and who linked a home person (R-62).

Two sides of one brokered login (docs/federation.md, "Modes"):

- the *visiting* node keeps a `FederatedAccount`: a local person (no password) linked to the
  home node's ``(iss, sub)``; its real-name level is the home level capped by local policy;
- the *home* node keeps a `NodeSubscriber` row per peer node that received an ID token for
  the person, so status changes (ban, closure, name or phone change) can be pushed to
  exactly those nodes (issue 6 item 4).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.accounts.models import Channel, IdType, Person
from idp.accounts.service import ID_KIND, PHONE_KIND, normalize_document, normalize_phone
from idp.crypto import DataProtector
from idp.db import Base, CreatedAt, UTCDateTime, utcnow

__all__ = ["FederatedAccount", "LinkConflict", "NodeSubscriber", "find_linked",
           "link_account", "record_subscriber", "subscribers_of", "update_claims"]


class LinkConflict(Exception):
    """The home identity cannot be linked here (its document already has a local account)."""


class FederatedAccount(Base):
    """Visiting-node side: a local person standing for an account held at a home node."""

    __tablename__ = "federated_account"
    __table_args__ = (UniqueConstraint("home_issuer", "home_sub",
                                       name="uq_federated_account_home"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"),
                                           unique=True)
    home_issuer: Mapped[str] = mapped_column(String(300))
    home_sub: Mapped[str] = mapped_column(String(255))
    home_entity_id: Mapped[str] = mapped_column(String(300), index=True)  # known.py
    home_level: Mapped[int] = mapped_column(default=1)
    linked_at: Mapped[CreatedAt]
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NodeSubscriber(Base):
    """Home-node side: a peer node that received an ID token for one of our persons."""

    __tablename__ = "federation_subscriber"
    __table_args__ = (UniqueConstraint("person_id", "node_entity_id",
                                       name="uq_federation_subscriber_node"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"),
                                           index=True)
    node_entity_id: Mapped[str] = mapped_column(String(300), index=True)  # known.py
    subject: Mapped[str] = mapped_column(String(255))  # the ``sub`` that node received
    created_at: Mapped[CreatedAt]


def find_linked(session: Session, home_issuer: str, home_sub: str) -> Person | None:
    """The local person linked to ``(home_issuer, home_sub)``, or None."""
    return session.scalars(select(Person).join(
        FederatedAccount, FederatedAccount.person_id == Person.id).where(
        FederatedAccount.home_issuer == home_issuer.rstrip("/"),
        FederatedAccount.home_sub == home_sub)).one_or_none()


def account_of(session: Session, person_id: int) -> FederatedAccount | None:
    """The link of a local person, or None for a local (non-federated) person."""
    return session.scalars(select(FederatedAccount).where(
        FederatedAccount.person_id == person_id)).one_or_none()


def update_claims(session: Session, person: Person, protector: DataProtector, *,
                  claims: dict[str, object], level: int | None = None) -> None:
    """Refresh name, phone and level from the home node (at every login, and on events).

    A phone already bound to another local person is not copied: the home node stays the
    authority for it, and a local unique index must not turn a login into an error.
    """
    name = claims.get("name")
    if isinstance(name, str) and name.strip():
        person.name_enc = protector.encrypt(name.strip(), "person.name")
    phone = claims.get("phone_number")
    if isinstance(phone, str) and phone.strip():
        number = normalize_phone(phone)
        index = protector.blind_index(PHONE_KIND, number)
        holder = session.scalars(select(Person.id).where(Person.phone_index == index)).first()
        if holder is None or holder == person.id:
            person.phone_enc = protector.encrypt(number, "person.phone")
            person.phone_index = index
    if level is not None:
        person.realname_level = level


def link_account(session: Session, *, home_issuer: str, home_sub: str, home_entity_id: str,
                 level: int, claims: dict[str, object],
                 protector: DataProtector, home_level: int | None = None) -> Person:
    """Create or refresh the local federated person for a home identity (no password).

    ``claims`` are the verified home claims: ``id_type``, ``id_number`` and ``name`` are
    required to create the person (one document is one account here too, R-63); ``level``
    is already capped by the caller's trust policy; ``home_level`` is the level the home node
    stated (default ``level``), kept on the link. ``protector`` encrypts personal fields
    (added to the contract's keywords: nothing personal is stored in clear).
    """
    home_issuer = home_issuer.rstrip("/")
    stated = level if home_level is None else home_level
    person = find_linked(session, home_issuer, home_sub)
    if person is not None:
        update_claims(session, person, protector, claims=claims, level=level)
        link = account_of(session, person.id)
        assert link is not None
        link.home_level, link.last_seen = stated, utcnow()
        link.home_entity_id = home_entity_id
        return person
    id_type, number, name = claims.get("id_type"), claims.get("id_number"), claims.get("name")
    if not (isinstance(id_type, str) and isinstance(number, str) and isinstance(name, str)
            and number.strip() and name.strip()):
        raise LinkConflict("the home node did not release id_type, id_number and name")
    try:
        IdType(id_type)
    except ValueError as exc:
        raise LinkConflict("unknown document type") from exc
    number = normalize_document(number)
    id_index = protector.blind_index(ID_KIND, number)
    if session.scalars(select(Person.id).where(Person.id_type == id_type,
                                               Person.id_index == id_index)).first():
        raise LinkConflict("this document already has a local account")
    person = Person(id_type=id_type, id_index=id_index,
                    id_number_enc=protector.encrypt(number, "person.id_number"),
                    name_enc=protector.encrypt(name.strip(), "person.name"),
                    realname_level=level, channel=Channel.FEDERATED.value)
    session.add(person)
    try:
        with session.begin_nested():
            session.flush()
            update_claims(session, person, protector, claims=claims)
            session.add(FederatedAccount(person_id=person.id, home_issuer=home_issuer,
                                         home_sub=home_sub, home_entity_id=home_entity_id,
                                         home_level=stated))
            session.flush()
    except IntegrityError as exc:  # a concurrent first login of the same person won
        raise LinkConflict("linked concurrently; try again") from exc
    return person


def record_subscriber(session: Session, person_id: int, node_entity_id: str,
                      subject: str) -> None:
    """Remember that ``node_entity_id`` got ``subject`` for this person (idempotent)."""
    node_entity_id = node_entity_id.rstrip("/")
    row = session.scalars(select(NodeSubscriber).where(
        NodeSubscriber.person_id == person_id,
        NodeSubscriber.node_entity_id == node_entity_id)).one_or_none()
    if row is not None:
        row.subject = subject
        return
    try:
        with session.begin_nested():
            session.add(NodeSubscriber(person_id=person_id, node_entity_id=node_entity_id,
                                       subject=subject))
            session.flush()
    except IntegrityError:  # recorded concurrently: the row exists, which is all we need
        pass


def subscribers_of(session: Session, person_id: int) -> list[NodeSubscriber]:
    """Every peer node that linked this person, oldest first."""
    return list(session.scalars(select(NodeSubscriber).where(
        NodeSubscriber.person_id == person_id).order_by(NodeSubscriber.id)))
