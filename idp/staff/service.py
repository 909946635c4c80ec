"""Staff sign-in: directory first, break-glass only when allowed, every attempt audited.

Issue 5 item 1 (the console's staff sign-in; R-53 audit, R-70 lockout). The order of checks
mirrors `idp.accounts.login`:

1. the source address's failure budget, then the lock on the username (a locked name is not
   even sent to the directory, so guessing cannot lock the directory's own ppolicy either);
2. the directory (`StaffDirectory.authenticate`): it checks the password, then whether the
   account is disabled, then the roles;
3. only if the directory is unreachable, and only for the break-glass account, and only when
   ``breakglass_policy`` allows it: the local break-glass administrator
   (``staff:breakglass:use`` audited on every use, and logged at WARNING for the operators).

Audit records are written in their own transaction, so a refused attempt leaves its trace
although the call raises. Unknown names are counted and locked like real ones.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.lockout import Lockout
from idp.audit import service as audit
from idp.crypto import keyed_digest
from idp.db import Database, utcnow
from idp.passwords import PasswordHasher
from idp.ratelimit import Limit, RateLimiter
from idp.settings import Settings, SettingsError
from idp.staff.directory import (
    DirectoryUnavailable,
    Source,
    StaffAuthError,
    StaffDirectory,
    StaffIdentity,
    TooManyAttempts,
    WrongCredentials,
    normalize_username,
    username_key,
)
from idp.staff.local import LocalDirectory
from idp.staff.models import StaffMember

log = logging.getLogger(__name__)


class BreakglassPolicy(enum.StrEnum):
    """When the local break-glass administrator may sign in."""

    DIRECTORY_DOWN = "directory_down"  # only while the directory cannot be reached (default)
    ALWAYS = "always"  # also while it is up (first set-up, before the directory is wired)
    OFF = "off"


@dataclass(frozen=True)
class SignedInStaff:
    """The result of a successful sign-in; ``member_id`` is the stable `StaffMember` id."""

    identity: StaffIdentity
    member_id: int

    @property
    def breakglass(self) -> bool:
        return self.identity.source is Source.BREAKGLASS


@dataclass(frozen=True)
class StaffGuards:
    """Failure counting for staff passwords, apart from the citizens' counters (R-70)."""

    username: Lockout
    address: Limit
    limiter: RateLimiter

    @classmethod
    def build(cls, limiter: RateLimiter, settings: Settings) -> StaffGuards:
        return cls(Lockout(limiter, "staff-pwd", settings.staff_max_failures,
                           settings.staff_lockout_seconds),
                   Limit("staff-addr-fail", max(1, settings.staff_address_max_failures),
                         settings.staff_address_window_seconds), limiter)

    def address_blocked_for(self, address: str) -> int:
        if self.limiter.test(self.address, address):
            return 0
        return max(1, self.limiter.resets_in(self.address, address))


class StaffSignIn:
    """Sign staff in to the console (no Flask: views and the JSON API both call this)."""

    def __init__(self, db: Database, directory: StaffDirectory, guards: StaffGuards,
                 secret_key: str, *, breakglass: LocalDirectory | None = None,
                 policy: BreakglassPolicy = BreakglassPolicy.DIRECTORY_DOWN) -> None:
        self.db = db
        self.directory = directory
        self.guards = guards
        self._secret_key = secret_key
        self.breakglass = breakglass if policy is not BreakglassPolicy.OFF else None
        self.policy = policy

    def sign_in(self, username: str, password: str, *, address: str = "") -> SignedInStaff:
        """One attempt; raises a `StaffAuthError` subclass with the reason's ``code``."""
        address = (address or "-")[:64]
        try:
            name = normalize_username(username)
        except WrongCredentials:
            self._audit_failure(_printable(username), address, "malformed_username")
            self.guards.limiter.hit(self.guards.address, address)
            raise
        subject = "s" + keyed_digest(self._secret_key, "staff\x00" + username_key(name))[:32]
        self._refuse_if_blocked(name, subject, address)
        if self.policy is BreakglassPolicy.ALWAYS and self._is_breakglass(name):
            return self._breakglass_attempt(name, password, subject, address, "policy_always")
        try:
            identity = self._call(name, subject, address,
                                  lambda: self.directory.authenticate(name, password))
        except DirectoryUnavailable:
            if not self._is_breakglass(name):
                raise
            return self._breakglass_attempt(name, password, subject, address,
                                            "directory_unavailable")
        return self._succeed(identity, subject, address)

    # -- steps -----------------------------------------------------------------------------

    def _refuse_if_blocked(self, name: str, subject: str, address: str) -> None:
        wait = self.guards.address_blocked_for(address)
        reason = "address_throttled"
        if not wait:
            wait, reason = self.guards.username.locked_for(subject), "locked"
        if wait:
            self._audit_failure(name, address, reason)
            raise TooManyAttempts(wait, reason)

    def _is_breakglass(self, name: str) -> bool:
        return self.breakglass is not None and self.breakglass.lookup(name) is not None

    def _breakglass_attempt(self, name: str, password: str, subject: str, address: str,
                            reason: str) -> SignedInStaff:
        """A break-glass attempt: counted and audited like any other, and its use flagged."""
        breakglass = self.breakglass
        assert breakglass is not None
        identity = self._call(name, subject, address,
                              lambda: breakglass.authenticate(name, password), method="breakglass")
        log.warning("staff: break-glass account %s signed in (%s)", identity.username, reason)
        return self._succeed(identity, subject, address, breakglass_reason=reason)

    def _call(self, name: str, subject: str, address: str,
              auth: Callable[[], StaffIdentity], method: str = "directory") -> StaffIdentity:
        """Run one authentication; count wrong passwords, audit every refusal."""
        try:
            return auth()
        except WrongCredentials as exc:
            self.guards.limiter.hit(self.guards.address, address)
            left = self.guards.username.fail(subject)
            self._audit_failure(name, address, exc.code, method=method, detail=exc.detail)
            if left == 0:
                self._audit(name, address, "staff:lockout", "locked", method=method)
                wait = self.guards.username.locked_for(subject)
                raise TooManyAttempts(wait, "locked now") from exc
            raise
        except StaffAuthError as exc:
            if not isinstance(exc, DirectoryUnavailable):
                self.guards.username.succeed(subject)  # the password was right
            self._audit_failure(name, address, exc.code, method=method, detail=exc.detail)
            raise

    def _succeed(self, identity: StaffIdentity, subject: str, address: str,
                 breakglass_reason: str = "") -> SignedInStaff:
        self.guards.username.succeed(subject)
        with self.db.session() as session:
            member = _remember(session, identity)
            details = _identity_details(identity)
            if breakglass_reason:
                _record(session, identity.username, address, "staff:breakglass:use",
                        "success", actor_known=True, reason=breakglass_reason, **details)
            _record(session, identity.username, address, "staff:login:success", "success",
                    actor_known=True, **details)
            return SignedInStaff(identity, member.id)

    # -- audit -----------------------------------------------------------------------------

    def _audit_failure(self, name: str, address: str, reason: str, **details: Any) -> None:
        self._audit(name, address, "staff:login:failure", "failure", reason=reason, **details)

    def _audit(self, name: str, address: str, action: str, outcome: str, **details: Any) -> None:
        with self.db.session() as session:
            _record(session, name, address, action, outcome, actor_known=False, **details)


def _record(session: Session, name: str, address: str, action: str, outcome: str, *,
            actor_known: bool, **details: Any) -> None:
    """Append a staff event; the password never reaches here, only the username."""
    target = f"staff:{name}"[:128]
    audit.record(session, actor=target if actor_known else "anonymous", action=action,
                 target=target, outcome=outcome, address=address,
                 details={k: v for k, v in details.items() if v not in ("", None)})


def _identity_details(identity: StaffIdentity) -> dict[str, Any]:
    return {"source": identity.source.value, "department": identity.department,
            "roles": sorted(r.value for r in identity.roles)}


def _printable(raw: object) -> str:
    """A refused username as it may be stored: text, no control characters, bounded."""
    text = raw if isinstance(raw, str) else ""
    return "".join(c if c.isprintable() else "?" for c in text[:64])


def _remember(session: Session, identity: StaffIdentity) -> StaffMember:
    """Create or refresh the `StaffMember` row of this identity."""
    key = f"{identity.source.value}:{username_key(identity.username)}"[:80]
    member = session.scalars(select(StaffMember).where(StaffMember.key == key)).one_or_none()
    if member is None:
        member = StaffMember(key=key, username=identity.username[:64],
                             source=identity.source.value)
        session.add(member)
    member.display_name = identity.display_name[:128]
    member.department = identity.department[:128]
    member.roles = sorted(r.value for r in identity.roles)
    member.dn = identity.dn[:512]
    member.last_login_at = utcnow()
    session.flush()
    return member


def build_staff_sign_in(settings: Settings, db: Database, limiter: RateLimiter,
                        hasher: PasswordHasher) -> StaffSignIn:
    """The node's staff sign-in: LDAP when ``IDP_LDAP_URL`` is set, else the local table."""
    try:
        policy = BreakglassPolicy(settings.breakglass_policy)
    except ValueError as exc:
        raise SettingsError("IDP_BREAKGLASS_POLICY must be directory_down, always or off") \
            from exc
    directory: StaffDirectory
    if settings.ldap_url:
        from idp.staff.ldap import LdapConfig, LdapDirectory
        from idp.staff.roles import RoleMap, RoleMapError

        try:
            role_map = RoleMap.parse(settings.ldap_role_map)
        except RoleMapError as exc:
            raise SettingsError(f"IDP_LDAP_ROLE_MAP: {exc}") from exc
        directory = LdapDirectory(LdapConfig.from_settings(settings), role_map)
    else:
        directory = LocalDirectory(db, hasher)
    return StaffSignIn(db, directory, StaffGuards.build(limiter, settings), settings.secret_key,
                       breakglass=LocalDirectory(db, hasher, breakglass=True), policy=policy)
