"""`StaffDirectory` over LDAP (OpenLDAP, Active Directory) with ldap3 (issue 5 item 1).

Sign-in is the classic search-then-bind (RFC 4513 §5.1.3): a service account finds the one
entry whose username matches (the name escaped per RFC 4515 §3, so ``*`` or ``)(uid=*`` are
compared literally, never interpreted), then a second connection binds as that entry's DN with
the typed password. Group membership (``groupOfNames``/``member``) gives the roles through a
`RoleMap`; the managing department is an attribute of the entry, or else the nearest ``ou=``
of its DN below the user base.

A disabled directory account is one whose ``shadowExpire`` (nis schema, days since
1970-01-01; standard in OpenLDAP) is today or earlier: an administrator disables staff with
``shadowExpire: 1``. It is checked only after the password is proved, so a stranger cannot
learn that an account exists. Directories that refuse the bind of a disabled account
themselves (AD, OpenLDAP with ppolicy) answer like a wrong password.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import ssl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from idp.settings import Settings, SettingsError
from idp.staff.directory import (
    AccountDisabled,
    DirectoryUnavailable,
    NoRole,
    Source,
    StaffIdentity,
    WrongCredentials,
    check_password_shape,
    normalize_username,
)
from idp.staff.roles import Group, RoleMap, normalize_dn

# ldap3 2.9 reads pyasn1 names that pyasn1 ≥ 0.6 deprecates, warning once at import time;
# with pytest's filterwarnings=error that import would fail. Nothing we call is affected.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import ldap3
    from ldap3.core.exceptions import LDAPException
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import parse_dn

log = logging.getLogger(__name__)

_INVALID_CREDENTIALS = 49
_NO_SUCH_OBJECT = 32
_SIZE_LIMIT_EXCEEDED = 4
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class LdapConfig:
    """Where the directory is and how entries look in it."""

    url: str
    base_dn: str
    bind_dn: str = ""
    bind_password: str = ""
    user_base: str = ""
    group_base: str = ""
    user_filter: str = "(&(objectClass=inetOrgPerson)(uid={username}))"
    group_filter: str = "(&(objectClass=groupOfNames)(member={dn}))"
    department_attribute: str = "departmentNumber"
    start_tls: bool = False
    ca_file: str = ""
    timeout: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> LdapConfig:
        """The directory of ``IDP_LDAP_*``; refuses cleartext passwords in production."""
        if not settings.ldap_url or not settings.ldap_base_dn:
            raise SettingsError("IDP_LDAP_URL and IDP_LDAP_BASE_DN are both needed")
        cleartext = settings.ldap_url.lower().startswith("ldap://") and not settings.ldap_start_tls
        if cleartext and not (settings.debug or settings.testing):
            raise SettingsError("IDP_LDAP_URL must be ldaps:// or use IDP_LDAP_START_TLS=true: "
                                "staff passwords must not cross the network in clear")
        if "{username}" not in settings.ldap_user_filter or \
                "{dn}" not in settings.ldap_group_filter:
            raise SettingsError("IDP_LDAP_USER_FILTER needs {username}, "
                                "IDP_LDAP_GROUP_FILTER needs {dn}")
        base = settings.ldap_base_dn
        return cls(url=settings.ldap_url, base_dn=base, bind_dn=settings.ldap_bind_dn,
                   bind_password=settings.ldap_bind_password,
                   user_base=settings.ldap_user_base or f"ou=people,{base}",
                   group_base=settings.ldap_group_base or f"ou=groups,{base}",
                   user_filter=settings.ldap_user_filter,
                   group_filter=settings.ldap_group_filter,
                   department_attribute=settings.ldap_department_attribute,
                   start_tls=settings.ldap_start_tls, ca_file=settings.ldap_ca_file,
                   timeout=max(1, settings.ldap_timeout_seconds))


@dataclass(frozen=True)
class _Entry:
    dn: str
    attributes: dict[str, Any]

    def first(self, name: str) -> str:
        """First value of an attribute as text; "" when absent (attribute names ignore case)."""
        for key, value in self.attributes.items():
            if key.casefold() == name.casefold():
                values = value if isinstance(value, list) else [value]
                return str(values[0]).strip() if values else ""
        return ""


class LdapDirectory:
    """Staff accounts and roles from an LDAP directory."""

    source = Source.LDAP

    def __init__(self, config: LdapConfig, role_map: RoleMap) -> None:
        self.config = config
        self.role_map = role_map
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=config.ca_file or None)
        self._server = ldap3.Server(config.url, connect_timeout=config.timeout,
                                    get_info=ldap3.NONE, tls=tls)

    def authenticate(self, username: str, password: str) -> StaffIdentity:
        """Search-then-bind (RFC 4513 §5.1.3); see `StaffDirectory.authenticate`."""
        name = normalize_username(username)
        check_password_shape(password)
        with self._service() as conn:
            entry = self._find_user(conn, name)
            if entry is None:
                # Bind a DN that cannot exist, so an unknown name costs the same round trip.
                self._bind_as(f"uid={secrets.token_hex(8)},{self.config.user_base}", password)
                raise WrongCredentials("no such user")
            self._bind_as(entry.dn, password)
            if _is_disabled(entry):
                raise AccountDisabled(f"shadowExpire {entry.first('shadowExpire')}")
            identity = self._identity(conn, entry, name)
        if not identity.roles:
            raise NoRole("in no mapped group")
        return identity

    def lookup(self, username: str) -> StaffIdentity | None:
        """See `StaffDirectory.lookup`."""
        try:
            name = normalize_username(username)
        except WrongCredentials:
            return None
        with self._service() as conn:
            entry = self._find_user(conn, name)
            if entry is None or _is_disabled(entry):
                return None
            return self._identity(conn, entry, name)

    # -- connections -----------------------------------------------------------------------

    def _connection(self, user: str | None, password: str | None) -> Any:
        return ldap3.Connection(self._server, user=user, password=password, read_only=True,
                                receive_timeout=self.config.timeout, raise_exceptions=False,
                                auto_bind=ldap3.AUTO_BIND_NONE)

    def _open(self, conn: Any) -> None:
        conn.open()
        if self.config.start_tls and not conn.start_tls():
            raise DirectoryUnavailable("StartTLS refused")

    @contextmanager
    def _service(self) -> Iterator[Any]:
        """The service account's connection; any transport failure means unavailable."""
        conn = self._connection(self.config.bind_dn or None, self.config.bind_password or None)
        try:
            self._open(conn)
            if not conn.bind():
                log.error("ldap: service bind refused (result %s)", conn.result.get("result"))
                raise DirectoryUnavailable("service bind refused")
            yield conn
        except (LDAPException, OSError) as exc:
            log.warning("ldap: directory unavailable: %s", type(exc).__name__)
            raise DirectoryUnavailable(type(exc).__name__) from exc
        finally:
            _close(conn)

    def _bind_as(self, dn: str, password: str) -> None:
        """Prove ``password`` by binding as ``dn`` on a fresh connection."""
        conn = self._connection(dn, password)
        try:
            self._open(conn)
            if conn.bind():
                return
            code = conn.result.get("result")
        except (LDAPException, OSError) as exc:
            raise DirectoryUnavailable(type(exc).__name__) from exc
        finally:
            _close(conn)
        if code != _INVALID_CREDENTIALS:
            log.warning("ldap: user bind refused with result %s", code)
        raise WrongCredentials(f"bind result {code}")

    # -- searches --------------------------------------------------------------------------

    def _search(self, conn: Any, base: str, query: str, attributes: list[str],
                limit: int) -> list[_Entry]:
        conn.search(base, query, search_scope=ldap3.SUBTREE, attributes=attributes,
                    size_limit=limit, time_limit=self.config.timeout)
        code = conn.result.get("result")
        if code not in (0, _SIZE_LIMIT_EXCEEDED, _NO_SUCH_OBJECT):
            log.warning("ldap: search failed with result %s", code)
            raise DirectoryUnavailable(f"search result {code}")
        return [_Entry(r["dn"], dict(r.get("attributes", {}))) for r in conn.response or []
                if r.get("type") == "searchResEntry"]

    def _find_user(self, conn: Any, name: str) -> _Entry | None:
        """The single entry for ``name``; None when there is none or (misconfigured) several."""
        query = self.config.user_filter.replace("{username}", escape_filter_chars(name))
        attrs = ["uid", "cn", "displayName", "shadowExpire", self.config.department_attribute]
        found = self._search(conn, self.config.user_base, query, attrs, limit=2)
        if len(found) > 1:
            log.error("ldap: username matches several entries; refusing (check the filter)")
            return None
        return found[0] if found else None

    def _groups(self, conn: Any, dn: str) -> list[Group]:
        query = self.config.group_filter.replace("{dn}", escape_filter_chars(dn))
        found = self._search(conn, self.config.group_base, query, ["cn"], limit=0)
        return [Group(e.dn, e.first("cn")) for e in found]

    def _identity(self, conn: Any, entry: _Entry, name: str) -> StaffIdentity:
        return StaffIdentity(
            username=entry.first("uid") or name,
            display_name=entry.first("displayName") or entry.first("cn") or entry.first("uid"),
            department=(entry.first(self.config.department_attribute)
                        or _nearest_ou(entry.dn, self.config.user_base)),
            roles=self.role_map.roles_for(self._groups(conn, entry.dn)),
            source=Source.LDAP, dn=entry.dn)


def _close(conn: Any) -> None:
    try:
        conn.unbind()
    except (LDAPException, OSError):
        pass  # already gone; nothing to release


def _is_disabled(entry: _Entry, today: dt.date | None = None) -> bool:
    """``shadowExpire`` (days since 1970-01-01) reached; an unreadable value disables too."""
    raw = entry.first("shadowExpire")
    if not raw:
        return False
    try:
        days = int(raw)
    except ValueError:
        return True  # fail closed: someone meant to set an expiry
    if days < 0:
        return False  # -1: never expires (shadow(5))
    return ((today or dt.datetime.now(dt.UTC).date()) - _EPOCH).days >= days


def _nearest_ou(dn: str, user_base: str) -> str:
    """The ``ou`` closest to the entry among the RDNs between it and the user base."""
    rdns = parse_dn(dn, escape=False, strip=True)
    base_len = len(parse_dn(user_base, escape=False, strip=True))
    if not normalize_dn(dn).endswith(normalize_dn(user_base)):
        return ""
    for attr, value, _sep in rdns[1:len(rdns) - base_len]:
        if attr.casefold() == "ou":
            return str(value)
    return ""
