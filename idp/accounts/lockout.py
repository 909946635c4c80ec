"""Lockout and throttling on every guessable secret (R-70).

Two mechanisms, both counters in the Store through `RateLimiter` so every process agrees:

- per subject (an account, or an unknown login name): after N failures the secret is
  locked for ``lockout_seconds``, counted from the moment of the lockout, not the first
  failure. Passwords and TOTP codes have separate locks, so a stranger hammering the
  password cannot also block the owner's second factor, and vice versa.
- per source address: failures of every kind from one address inside a window; when the
  budget is spent, every attempt from that address is refused until the window ends.

SMS codes are not locked here: each code dies after ``sms_code_max_attempts`` wrong tries
(`idp.accounts.sms_codes`), and new codes are rate limited per phone and per address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.accounts.service import looks_like_phone
from idp.audit import service as audit
from idp.crypto import keyed_digest, mask_id_number, mask_phone
from idp.ratelimit import Limit, RateLimiter
from idp.settings import Settings


class Lockout:
    """Failure counting and a timed lock for one kind of secret (R-70)."""

    def __init__(self, limiter: RateLimiter, kind: str, max_failures: int, seconds: int):
        self._limiter = limiter
        self.max_failures = max(1, max_failures)
        self._failures = Limit(f"{kind}-fail", self.max_failures, seconds)
        self._lock = Limit(f"{kind}-lock", 1, seconds)

    def locked_for(self, subject: str) -> int:
        """Seconds until the lock on ``subject`` ends; 0 when not locked."""
        if self._limiter.test(self._lock, subject):
            return 0
        return max(1, self._limiter.resets_in(self._lock, subject))

    def fail(self, subject: str) -> int:
        """Count a failure; return the attempts left (0: locked from now on)."""
        self._limiter.hit(self._failures, subject)
        left = self.max_failures - self._limiter.attempts(self._failures, subject)
        if left <= 0:
            self._limiter.hit(self._lock, subject)
            self._limiter.clear(self._failures, subject)
            return 0
        return left

    def succeed(self, subject: str) -> None:
        """A correct secret forgives earlier failures."""
        self._limiter.clear(self._failures, subject)

    @property
    def limiter(self) -> RateLimiter:
        return self._limiter

    def counters(self, subject: str) -> tuple[tuple[Limit, str], tuple[Limit, str]]:
        """The lock and the failure count of ``subject``, for `Guards.standing`."""
        return (self._lock, subject), (self._failures, subject)

    def retry_in(self, subject: str) -> int:
        """Seconds until the lock on ``subject`` ends, once `Standing` found it locked."""
        return max(1, self._limiter.resets_in(self._lock, subject))


class AddressThrottle:
    """Failures of any secret from one source address inside a window (R-70)."""

    def __init__(self, limiter: RateLimiter, max_failures: int, window: int) -> None:
        self._limiter = limiter
        self._limit = Limit("addr-fail", max(1, max_failures), window)

    def blocked_for(self, address: str) -> int:
        if self._limiter.test(self._limit, address):
            return 0
        return max(1, self._limiter.resets_in(self._limit, address))

    def fail(self, address: str) -> None:
        self._limiter.hit(self._limit, address)

    @property
    def budget(self) -> int:
        return self._limit.count

    def counter(self, address: str) -> tuple[Limit, str]:
        """The failure count of ``address``, for `Guards.standing`."""
        return self._limit, address

    def retry_in(self, address: str) -> int:
        """Seconds until the window ends, once `Standing` found the address blocked."""
        return max(1, self._limiter.resets_in(self._limit, address))


@dataclass(frozen=True)
class Standing:
    """The counters that decide one attempt, read together before the secret is checked.

    The same decisions as `AddressThrottle.blocked_for` and `Lockout.locked_for`, taken
    from one Store round trip instead of one per counter (issue 2 "Performance"); the
    seconds to wait are read only when an attempt is refused. ``failures`` tells whether
    a success has anything to forgive (`Lockout.succeed`).
    """

    address_blocked: bool
    locked: bool
    failures: int


@dataclass(frozen=True)
class Guards:
    """The lockouts of one node, built from its settings."""

    password: Lockout
    totp: Lockout
    address: AddressThrottle

    def standing(self, address: str, lockout: Lockout, subject: str) -> Standing:
        """Address budget, lock and failure count of one attempt on ``lockout``'s secret."""
        spent, locks, failures = lockout.limiter.counts(self.address.counter(address),
                                                        *lockout.counters(subject))
        return Standing(address_blocked=spent >= self.address.budget, locked=locks >= 1,
                        failures=failures)

    @classmethod
    def build(cls, limiter: RateLimiter, settings: Settings) -> Guards:
        return cls(
            password=Lockout(limiter, "pwd", settings.password_max_failures,
                             settings.lockout_seconds),
            totp=Lockout(limiter, "totp", settings.totp_max_failures, settings.lockout_seconds),
            address=AddressThrottle(limiter, settings.address_max_failures,
                                    settings.address_window_seconds),
        )


def person_subject(person: Person) -> str:
    return f"p{person.id}"


def unknown_subject(secret_key: str, identifier: str) -> str:
    """Subject for a login name with no account: keyed, so the Store never holds the name.

    Unknown names are counted and locked exactly like real accounts, so the answers to
    wrong guesses do not reveal whether an account exists.
    """
    return "u" + keyed_digest(secret_key, "login-name\x00" + identifier.strip().upper())[:32]


def mask_identifier(identifier: str) -> str:
    """A login name as it may appear in logs and audit details (R-70)."""
    text = identifier.strip()[:64]
    return mask_phone(text) if looks_like_phone(text) else mask_id_number(text)


def record(session: Session, action: str, *, person: Person | None, address: str,
           outcome: str = "success", **details: Any) -> None:
    """Append an authentication event; ``details`` must hold masked values only."""
    sub = person.sub if person is not None else ""
    audit.record(session, actor=sub or "anonymous", action=action, target=sub,
                 outcome=outcome, address=address, details=details)
