"""The staff directory port: who a government staff member is and what they may do (issue 5).

Staff sign in with their government directory account (R-50 – R-54 are done by staff); the
directory says who they are, which department manages them and, through group membership,
which console roles they hold. Two implementations satisfy `StaffDirectory`:
`idp.staff.ldap.LdapDirectory` (OpenLDAP / Active Directory through ldap3) and
`idp.staff.local.LocalDirectory` (a table in our database, for the demo and break-glass).

Every refusal is a `StaffAuthError` subclass with a stable ``code``; the console turns the code
into a message with ``_(MESSAGES[code])``.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

MAX_USERNAME = 64
MAX_PASSWORD = 256


def N_(text: str) -> str:  # noqa: N802 - gettext's conventional no-op marker for extraction
    """Mark ``text`` for translation; the console translates it when it shows it."""
    return text


class Role(enum.StrEnum):
    """Console roles (issue 5 item 1); what each may do is enforced by the console."""

    CLERK = "clerk"  # counter clerk in a service hall
    MANAGER = "manager"  # bans, asks for unbans
    DEPARTMENT_HEAD = "department_head"  # approves unbans of their department
    AUDITOR = "auditor"  # reads the operation log, changes nothing
    CLIENT_ADMIN = "client_admin"  # registers department systems
    PLATFORM_ADMIN = "platform_admin"


class Source(enum.StrEnum):
    LDAP = "ldap"
    LOCAL = "local"
    BREAKGLASS = "breakglass"


@dataclass(frozen=True)
class StaffIdentity:
    """A staff member as the directory describes them at sign-in time."""

    username: str  # the directory's own spelling (e.g. the entry's uid)
    display_name: str
    department: str  # the managing department (R-52: its head approves unbans)
    roles: frozenset[Role]
    source: Source
    dn: str = ""  # distinguished name in the directory; "" for local accounts


class StaffAuthError(Exception):
    """A staff sign-in refused; ``code`` is stable and goes into the audit record."""

    code: ClassVar[str] = "staff_error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail  # for logs and audit only; never shown to the user

    @property
    def message(self) -> str:
        return MESSAGES[self.code]


class WrongCredentials(StaffAuthError):
    """Unknown username or wrong password: one answer, so names cannot be enumerated."""

    code = "wrong_credentials"


class AccountDisabled(StaffAuthError):
    """The password was right, but the directory has disabled the account."""

    code = "account_disabled"


class NoRole(StaffAuthError):
    """Authenticated, but in no group mapped to a console role."""

    code = "no_role"


class DirectoryUnavailable(StaffAuthError):
    """The directory cannot be reached or did not answer in time."""

    code = "directory_unavailable"


class TooManyAttempts(StaffAuthError):
    """Locked (the username) or throttled (the address) for ``retry_after`` seconds (R-70)."""

    code = "locked"

    def __init__(self, retry_after: int, detail: str = "") -> None:
        super().__init__(detail)
        self.retry_after = retry_after


MESSAGES: dict[str, str] = {
    "wrong_credentials": N_("用户名或密码不正确。"),
    "account_disabled": N_("您的目录账号已被停用，请联系本单位管理员。"),
    "no_role": N_("您的账号未被授予管理后台的任何角色，请联系本单位管理员。"),
    "directory_unavailable": N_(
        "暂时无法连接统一目录服务，请稍后再试；如情况紧急请联系平台管理员。"),
    "locked": N_("尝试次数过多，请稍后再试。"),
    "staff_error": N_("登录失败，请稍后再试。"),
}


@runtime_checkable
class StaffDirectory(Protocol):
    """Where staff accounts live (DESIGN.md: staff directory, LDAP | local)."""

    source: Source

    def authenticate(self, username: str, password: str) -> StaffIdentity:
        """Check the password and return the identity, with its roles.

        Raises `WrongCredentials` (unknown user or wrong password alike), `AccountDisabled`
        (only once the password is proved right), `NoRole` (no mapped group) or
        `DirectoryUnavailable`. Never raises anything else for bad input.
        """
        ...

    def lookup(self, username: str) -> StaffIdentity | None:
        """The current identity of an active account, roles possibly empty; None when the
        account is unknown or disabled (a console session re-checks with this).

        Raises `DirectoryUnavailable` when the directory cannot answer.
        """
        ...


def normalize_username(raw: str) -> str:
    """The username as typed, NFC-normalised and trimmed; `WrongCredentials` when it cannot be
    anyone's (empty, too long, control characters such as NUL, unencodable surrogates).

    Refused names get the same answer as unknown ones. Characters with a meaning in LDAP
    filters (``*``, ``(``, ``)``, ``\\``) are NOT refused here: the LDAP implementation
    escapes them (RFC 4515 §3), so a name is only ever compared, never interpreted.
    """
    if not isinstance(raw, str):
        raise WrongCredentials("username is not text")
    name = unicodedata.normalize("NFC", raw).strip()
    if not name or len(name) > MAX_USERNAME:
        raise WrongCredentials("username empty or too long")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Cf") for c in name):
        raise WrongCredentials("username has control characters")
    return name


def check_password_shape(password: str) -> None:
    """Refuse passwords no account can have, before they reach a directory.

    An EMPTY password matters most: an LDAP simple bind with a DN and no password is an
    "unauthenticated bind" that succeeds (RFC 4513 §5.1.2), so it must never be sent.
    """
    if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD:
        raise WrongCredentials("password empty or too long")
    try:
        password.encode()
    except UnicodeEncodeError as exc:  # a lone surrogate, which JSON can carry
        raise WrongCredentials("password not encodable") from exc


def username_key(username: str) -> str:
    """The form usernames are compared and counted in (directories match uid ignoring case)."""
    return username.casefold()
