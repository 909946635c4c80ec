"""One-time SMS codes: issue with send limits, verify with an attempt budget (R-30, R-70).

A code is 6 random digits, kept in the Store only as a keyed digest bound to its purpose
and phone, for ``sms_code_ttl`` seconds. After ``sms_code_max_attempts`` wrong tries the
code dies. Sending is limited per phone (one per interval, N per day) and per source
address (N per hour).

To keep the existence of accounts private, a request for a phone with no account goes
through the same limits and stores a decoy code that was never sent, so every later answer
(attempts left, expiry) looks the same as for a real account.
"""

from __future__ import annotations

import enum
import json
import secrets
from dataclasses import dataclass

from idp.accounts.service import normalize_phone
from idp.crypto import keyed_digest
from idp.ratelimit import Limit, RateLimiter
from idp.settings import Settings
from idp.sms import SmsError, SmsGateway
from idp.store import Store

CODE_DIGITS = 6


class SendOutcome(enum.StrEnum):
    SENT = "sent"  # also the answer for a phone without an account (nothing sent)
    TOO_SOON = "too_soon"  # per-phone interval
    PHONE_DAILY = "phone_daily"  # per-phone daily quota
    ADDRESS_HOURLY = "address_hourly"  # per-address hourly quota
    GATEWAY_DOWN = "gateway_down"


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    retry_in: int = 0  # seconds until another send may succeed
    delivered: bool = False  # a message really left (for the audit log only)

    @property
    def ok(self) -> bool:
        return self.outcome is SendOutcome.SENT


class CheckOutcome(enum.StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"  # no live code: never sent, expired, used, or out of attempts


@dataclass(frozen=True)
class CheckResult:
    outcome: CheckOutcome
    remaining: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome is CheckOutcome.OK


class SmsCodes:
    """Issue and check codes for one purpose (``login``, ``verify``…)."""

    def __init__(self, store: Store, limiter: RateLimiter, sms: SmsGateway,
                 settings: Settings, purpose: str = "login") -> None:
        self._store = store
        self._limiter = limiter
        self._sms = sms
        self._settings = settings
        self.purpose = purpose
        s = settings
        self._interval = Limit("sms-phone-interval", 1, max(1, s.sms_per_phone_interval))
        self._daily = Limit("sms-phone-daily", s.sms_per_phone_daily, 86400)
        self._hourly = Limit("sms-address-hourly", s.sms_per_address_hourly, 3600)

    @property
    def settings(self) -> Settings:
        return self._settings

    def _phone_key(self, phone: str) -> str:
        # Keyed: the Store never holds a phone number in clear.
        return keyed_digest(self._settings.secret_key, f"sms\x00{normalize_phone(phone)}")[:40]

    def _code_key(self, phone: str) -> str:
        return f"sms-code:{self.purpose}:{self._phone_key(phone)}"

    def _digest(self, phone: str, code: str) -> str:
        return keyed_digest(self._settings.secret_key,
                            f"sms-code\x00{self.purpose}\x00{normalize_phone(phone)}\x00{code}")

    def _check_limits(self, phone_key: str, address: str) -> SendResult | None:
        """Count this send against every limit; the first one exceeded answers."""
        checks = ((self._hourly, address, SendOutcome.ADDRESS_HOURLY),
                  (self._interval, phone_key, SendOutcome.TOO_SOON),
                  (self._daily, phone_key, SendOutcome.PHONE_DAILY))
        for limit, subject, outcome in checks:
            if not self._limiter.test(limit, subject):
                return SendResult(outcome, max(1, self._limiter.resets_in(limit, subject)))
        for limit, subject, _ in checks:
            self._limiter.hit(limit, subject)
        return None

    def issue(self, phone: str, address: str, *, deliver: bool) -> SendResult:
        """Create a code for ``phone`` and send it when ``deliver`` (an account exists)."""
        phone_key = self._phone_key(phone)
        refused = self._check_limits(phone_key, address)
        if refused is not None:
            return refused
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        record = {"digest": self._digest(phone, code), "left": self._settings.sms_code_max_attempts}
        key = self._code_key(phone)
        self._store.set(key, json.dumps(record), self._settings.sms_code_ttl)
        if deliver:
            try:
                self._sms.send(normalize_phone(phone), f"{self.purpose}_code", {"code": code})
            except SmsError:
                self._store.delete(key)
                # The send did not happen: give the phone's interval back to the user.
                self._limiter.clear(self._interval, phone_key)
                return SendResult(SendOutcome.GATEWAY_DOWN)
        return SendResult(SendOutcome.SENT, self._settings.sms_per_phone_interval, deliver)

    def check(self, phone: str, code: str) -> CheckResult:
        """Verify and spend a code; a wrong code uses one of its attempts."""
        key = self._code_key(phone)
        raw = self._store.get(key)
        if raw is None:
            return CheckResult(CheckOutcome.EXPIRED)
        record = json.loads(raw)
        code = "".join(code.split())
        good = (len(code) == CODE_DIGITS and code.isascii() and code.isdigit()
                and secrets.compare_digest(record["digest"], self._digest(phone, code)))
        if good:
            # Pop: of two requests racing with the right code, only one gets it.
            return CheckResult(CheckOutcome.OK if self._store.pop(key) == raw
                               else CheckOutcome.EXPIRED)
        left = int(record["left"]) - 1
        if left <= 0:
            self._store.delete(key)
            return CheckResult(CheckOutcome.WRONG, 0)
        record["left"] = left
        self._store.set(key, json.dumps(record), max(1, self._store.ttl(key)))
        return CheckResult(CheckOutcome.WRONG, left)
