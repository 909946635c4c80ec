"""The embedded `StaffDirectory`: staff accounts in our own database (issue 5 item 1).

Used by the demo (no directory to run) and, with ``breakglass=True``, as the break-glass
administrator that signs in when the government directory is down. Answers exactly like
`idp.staff.ldap.LdapDirectory`: the same errors in the same order, an unknown name costs the
same hashing time as a wrong password, and a disabled account is told only to someone who
proved its password.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.db import Database, utcnow
from idp.passwords import PasswordHasher
from idp.staff.directory import (
    AccountDisabled,
    NoRole,
    Role,
    Source,
    StaffAuthError,
    StaffIdentity,
    WrongCredentials,
    check_password_shape,
    normalize_username,
    username_key,
)
from idp.staff.models import LocalStaffAccount

MIN_LOCAL_PASSWORD = 12  # these are administrator accounts (GB/T 22239 level 3 practice)


class LocalStaffError(ValueError):
    """A local staff account cannot be created or changed as asked."""


class LocalDirectory:
    """Staff accounts in the ``staff_local_account`` table (break-glass ones, or the others)."""

    def __init__(self, db: Database, hasher: PasswordHasher, *, breakglass: bool = False):
        self._db = db
        self._hasher = hasher
        self._breakglass = breakglass
        self.source = Source.BREAKGLASS if breakglass else Source.LOCAL

    def _row(self, session: Session, name: str) -> LocalStaffAccount | None:
        return session.scalars(select(LocalStaffAccount).where(
            LocalStaffAccount.username_key == username_key(name),
            LocalStaffAccount.breakglass == self._breakglass)).one_or_none()

    def authenticate(self, username: str, password: str) -> StaffIdentity:
        """See `StaffDirectory.authenticate`; upgrades a stale hash after a right password."""
        name = normalize_username(username)
        check_password_shape(password)
        with self._db.session() as session:
            row = self._row(session, name)
            if row is None:
                self._hasher.hash(password)  # same time as a real check
                raise WrongCredentials("no such user")
            checked = self._hasher.verify(row.password_hash, password)
            if not checked.ok:
                raise WrongCredentials("wrong password")
            if checked.needs_rehash:
                row.password_hash = self._hasher.hash(password)
            if row.disabled:
                raise AccountDisabled("local account disabled")
            identity = self._identity(row)
        if not identity.roles:
            raise NoRole("local account has no role")
        return identity

    def lookup(self, username: str) -> StaffIdentity | None:
        """See `StaffDirectory.lookup`."""
        try:
            name = normalize_username(username)
        except StaffAuthError:
            return None
        with self._db.session() as session:
            row = self._row(session, name)
            return None if row is None or row.disabled else self._identity(row)

    def _identity(self, row: LocalStaffAccount) -> StaffIdentity:
        return StaffIdentity(username=row.username, display_name=row.display_name,
                             department=row.department, roles=_known_roles(row.roles),
                             source=self.source)


def _known_roles(values: Iterable[str]) -> frozenset[Role]:
    """Roles stored on the row that still exist; a stale name grants nothing."""
    known = {r.value for r in Role}
    return frozenset(Role(v) for v in values if v in known)


def _checked_roles(roles: Iterable[str]) -> list[str]:
    try:
        return sorted({Role(r).value for r in roles})
    except ValueError as exc:
        raise LocalStaffError(f"unknown role; known: {', '.join(r.value for r in Role)}") from exc


def _checked_password(password: str) -> str:
    try:
        check_password_shape(password)
    except WrongCredentials as exc:
        raise LocalStaffError("password empty, too long or not encodable") from exc
    if len(password) < MIN_LOCAL_PASSWORD:
        raise LocalStaffError(f"password must have at least {MIN_LOCAL_PASSWORD} characters")
    return password


def create_local_staff(session: Session, hasher: PasswordHasher, *, username: str,
                       password: str, display_name: str, roles: Iterable[str],
                       department: str = "", breakglass: bool = False) -> LocalStaffAccount:
    """Add a local (or break-glass) staff account in the caller's transaction."""
    try:
        name = normalize_username(username)
    except WrongCredentials as exc:
        raise LocalStaffError("username empty, too long or with control characters") from exc
    if not display_name.strip() or len(display_name) > 128 or len(department) > 128:
        raise LocalStaffError("display name must be 1–128 characters, department ≤ 128")
    row = LocalStaffAccount(username_key=username_key(name), username=name,
                            display_name=display_name.strip(), department=department.strip(),
                            roles=_checked_roles(roles),
                            password_hash=hasher.hash(_checked_password(password)),
                            breakglass=breakglass)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise LocalStaffError("a local staff account with this username exists") from exc
    return row


def set_local_password(session: Session, hasher: PasswordHasher, username: str,
                       password: str) -> None:
    """Replace a local account's password (break-glass passwords are rotated after use)."""
    row = session.scalars(select(LocalStaffAccount).where(
        LocalStaffAccount.username_key == username_key(username.strip()))).one_or_none()
    if row is None:
        raise LocalStaffError("no local staff account with this username")
    row.password_hash = hasher.hash(_checked_password(password))
    row.password_changed_at = utcnow()
