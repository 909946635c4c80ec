"""Account operations: create, find, verify passwords, check status (R-30, R-70).

One place decides whether an account may sign in (DESIGN.md, login step 3).
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.accounts.models import AccountStatus, Channel, IdType, Person
from idp.crypto import DataProtector, mask_id_number, mask_name, mask_phone
from idp.db import utcnow
from idp.passwords import PasswordHasher

PHONE_KIND = "phone"
ID_KIND = "id"
# Called with (session, person) inside every account creation's transaction; federation
# queues the directory registration here (idp/federation/outbox.py, issue 6 item 2).
CREATED_HOOKS: list[Callable[[Session, Person], None]] = []
# Called with (session, person, what) when a bound identifier ("phone") changes, in the same
# transaction; federation tells the nodes that linked the person (events.py, issue 6 item 4).
CHANGED_HOOKS: list[Callable[[Session, Person, str], None]] = []


class AccountError(Exception):
    """Base of account errors; ``code`` names the message shown to the user."""

    code = "account_error"


class AccountExists(AccountError):
    code = "account_exists"


class PhoneTaken(AccountError):
    code = "phone_taken"


class AccountUnavailable(AccountError):
    """The account exists but may not sign in (banned or closed)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.code = f"account_{status}"
        self.status = status


def normalize_document(number: str) -> str:
    """Fold full-width characters and case, drop spaces: ``３５０２ x`` → ``3502X``."""
    return "".join(unicodedata.normalize("NFKC", number).split()).upper()


def normalize_phone(phone: str) -> str:
    text = "".join(unicodedata.normalize("NFKC", phone).split()).replace("-", "")
    return text.removeprefix("+86").removeprefix("0086")


def looks_like_phone(identifier: str) -> bool:
    p = normalize_phone(identifier)
    return len(p) == 11 and p.isdigit() and p.startswith("1")


@dataclass(frozen=True)
class PersonView:
    """Decrypted, display-ready facts about a person; masked unless asked otherwise."""

    sub: str
    id_type: str
    id_number: str
    name: str
    phone: str | None
    realname_level: int
    status: str


# The login lookups, built once: constructing an ORM select (and its cache key) on every
# login cost as much as executing it (bench/README.md, round 6). At most two rows: more
# than one means the number alone is ambiguous (`by_document`).
_BY_ID_INDEX = select(Person).where(Person.id_index == bindparam("id_index")).limit(2)
_BY_ID_INDEX_AND_TYPE = _BY_ID_INDEX.where(Person.id_type == bindparam("id_type"))
_BY_PHONE_INDEX = select(Person).where(Person.phone_index == bindparam("phone_index"))
# The same lookups with a caller's extra columns (`Accounts.lookup`), built once per set.
_WITH_COLUMNS: dict[tuple[int, tuple[ColumnElement[Any], ...]], Select[Any]] = {}


def _with_columns(statement: Select[Any], also: tuple[ColumnElement[Any], ...]) -> Select[Any]:
    if not also:
        return statement
    key = (id(statement), also)
    found = _WITH_COLUMNS.get(key)
    if found is None:
        found = _WITH_COLUMNS.setdefault(key, statement.add_columns(*also))
    return found


class Accounts:
    """Natural-person account operations over one database session."""

    def __init__(self, session: Session, protector: DataProtector, hasher: PasswordHasher):
        self.session = session
        self.protector = protector
        self.hasher = hasher

    # -- lookup ---------------------------------------------------------------------------

    def id_index(self, number: str) -> str:
        return self.protector.blind_index(ID_KIND, normalize_document(number))

    def phone_index(self, phone: str) -> str:
        return self.protector.blind_index(PHONE_KIND, normalize_phone(phone))

    def get(self, person_id: int) -> Person | None:
        return self.session.get(Person, person_id)

    def by_sub(self, sub: str) -> Person | None:
        return self.session.scalars(select(Person).where(Person.sub == sub)).one_or_none()

    def by_document(self, number: str, id_type: str | None = None) -> Person | None:
        """Find by document number; without a type, only an unambiguous match counts."""
        found = self._by_document(number, id_type)
        return None if found is None else found[0]

    def _by_document(self, number: str, id_type: str | None = None,
                     also: tuple[ColumnElement[Any], ...] = ()) -> Row[Any] | None:
        params = {"id_index": self.id_index(number)}
        if id_type:
            params["id_type"] = id_type
        statement = _BY_ID_INDEX_AND_TYPE if id_type else _BY_ID_INDEX
        found = self.session.execute(_with_columns(statement, also), params).all()
        return found[0] if len(found) == 1 else None

    def by_phone(self, phone: str) -> Person | None:
        found = self._by_phone(phone)
        return None if found is None else found[0]

    def _by_phone(self, phone: str, also: tuple[ColumnElement[Any], ...] = ()
                  ) -> Row[Any] | None:
        return self.session.execute(_with_columns(_BY_PHONE_INDEX, also),
                                    {"phone_index": self.phone_index(phone)}).one_or_none()

    def by_identifier(self, identifier: str) -> Person | None:
        """Login name: an ID number (default) or the bound phone (R-30)."""
        found = self.lookup(identifier)
        return None if found is None else found[0]

    def lookup(self, identifier: str, also: tuple[ColumnElement[Any], ...] = ()
               ) -> Row[Any] | None:
        """`by_identifier` as a row: the person, then the values of ``also`` — columns
        correlated to ``Person`` (scalar subqueries), read in the same statement so a login
        learns what it needs next without another round trip (issue 2 "Performance").
        Pass the same tuple object each time: its statements are built once."""
        identifier = identifier.strip()
        if not identifier or len(identifier) > 64:
            return None
        if looks_like_phone(identifier):
            found = self._by_phone(identifier, also)
            if found is not None:
                return found
        return self._by_document(identifier, None, also)

    # -- personal fields --------------------------------------------------------------------

    def id_number(self, person: Person) -> str:
        return self.protector.decrypt(person.id_number_enc, "person.id_number")

    def name(self, person: Person) -> str:
        return self.protector.decrypt(person.name_enc, "person.name")

    def phone(self, person: Person) -> str | None:
        if person.phone_enc is None:
            return None
        return self.protector.decrypt(person.phone_enc, "person.phone")

    def view(self, person: Person, *, full: bool = False) -> PersonView:
        """Decrypt for display; masked unless ``full`` (callers audit full reads)."""
        number, name, phone = self.id_number(person), self.name(person), self.phone(person)
        if not full:
            number, name = mask_id_number(number), mask_name(name)
            phone = mask_phone(phone) if phone else None
        return PersonView(person.sub, person.id_type, number, name, phone,
                          person.realname_level, person.status)

    # -- changes ----------------------------------------------------------------------------

    def create(self, *, id_type: str, id_number: str, name: str, phone: str | None,
               password: str | None = None, password_hash: str | None = None,
               realname_level: int = 1, channel: str = Channel.WEB.value,
               must_change_password: bool = False) -> Person:
        """Create an account; one document number is one account (R-63)."""
        IdType(id_type)
        number = normalize_document(id_number)
        if self.by_document(number, id_type) is not None:
            raise AccountExists()
        if phone is not None and self.by_phone(phone) is not None:
            raise PhoneTaken()
        person = Person(
            id_type=id_type,
            id_number_enc=self.protector.encrypt(number, "person.id_number"),
            id_index=self.id_index(number),
            name_enc=self.protector.encrypt(name.strip(), "person.name"),
            realname_level=realname_level,
            channel=channel,
            must_change_password=must_change_password,
        )
        if phone is not None:
            self._set_phone(person, phone)
        if password is not None:
            person.password_hash = self.hasher.hash(password)
            person.password_changed_at = utcnow()
        elif password_hash is not None:
            person.password_hash = password_hash
        self.session.add(person)
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError as exc:  # a concurrent registration of the same number won
            raise AccountExists() from exc
        for hook in CREATED_HOOKS:
            hook(self.session, person)
        return person

    def _set_phone(self, person: Person, phone: str) -> None:
        phone = normalize_phone(phone)
        person.phone_enc = self.protector.encrypt(phone, "person.phone")
        person.phone_index = self.phone_index(phone)

    def change_phone(self, person: Person, phone: str) -> None:
        existing = self.by_phone(phone)
        if existing is not None and existing.id != person.id:
            raise PhoneTaken()
        self._set_phone(person, phone)
        for hook in CHANGED_HOOKS:
            hook(self.session, person, "phone")

    def check_password(self, person: Person, password: str) -> bool:
        """Verify; a legacy or outdated hash is replaced by argon2id on success."""
        if not person.password_hash or not password or len(password) > 1024:
            return False
        result = self.hasher.verify(person.password_hash, password)
        if result.ok and result.needs_rehash:
            person.password_hash = self.hasher.hash(password)
        return result.ok

    def set_password(self, person: Person, password: str, *, must_change: bool = False,
                     end_sessions: bool = True) -> None:
        person.password_hash = self.hasher.hash(password)
        person.password_changed_at = utcnow()
        person.must_change_password = must_change
        if end_sessions:
            self.bump_epoch(person)

    def issue_random_password(self, person: Person) -> str:
        """A counter reset (R-11, R-40): random password, forced change at next login."""
        password = generate_password()
        self.set_password(person, password, must_change=True)
        return password

    def bump_epoch(self, person: Person) -> None:
        """Invalidate every session and token issued to the person before now."""
        self.session.execute(update(Person).where(Person.id == person.id)
                             .values(security_epoch=Person.security_epoch + 1))
        self.session.refresh(person)

    def set_status(self, person: Person, status: AccountStatus) -> None:
        person.status = status.value
        if status is not AccountStatus.ACTIVE:
            self.bump_epoch(person)


def ensure_can_sign_in(person: Person) -> None:
    """The single status check before any login completes (DESIGN.md, step 3)."""
    if person.status != AccountStatus.ACTIVE.value:
        raise AccountUnavailable(person.status)


_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"


def generate_password(length: int = 12) -> str:
    """Random password without look-alike characters, to be read out at a counter."""
    while True:
        pw = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))
        if any(c.isdigit() for c in pw) and any(c.isupper() for c in pw) and any(
            c.islower() for c in pw
        ):
            return pw


def check_password_strength(password: str) -> str | None:
    """Return a message code if the password is too weak, else None."""
    if len(password) < 8:
        return "password_too_short"
    if len(password) > 128:
        return "password_too_long"
    classes = sum([any(c.isdigit() for c in password), any(c.islower() for c in password),
                   any(c.isupper() for c in password), any(not c.isalnum() for c in password)])
    if classes < 3:
        return "password_too_simple"
    return None
