"""A registration in progress, kept encrypted in the Store until the account exists (R-10).

Nothing about an unfinished registration reaches the database: the state lives under
``reg:<id>`` for ``registration_ttl`` seconds, encrypted with the data key (it holds a name
and a document number, R-70), and is popped exactly once when the account is created.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from idp.crypto import DataProtector, DecryptionError, random_token
from idp.realname.factors import REQUIRED_FACTORS, Factor, level_for
from idp.store import Store

_CONTEXT = "registration.state"


class RegistrationError(Exception):
    """A step cannot proceed; ``code`` names the outcome the pages and the API explain.

    ``authority`` says which check could not be done; ``field`` which input is wrong;
    ``retry_in`` (seconds) when to try again; ``remaining`` attempts left for a code.
    """

    def __init__(self, code: str, *, authority: str | None = None, field: str | None = None,
                 retry_in: int = 0, remaining: int | None = None,
                 messages: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.authority = authority
        self.field = field
        self.retry_in = retry_in
        self.remaining = remaining
        self.messages = messages or {}


@dataclass
class Registration:
    """Everything proven so far; ``factors`` maps a factor to the authority's reference."""

    id: str
    id_type: str
    id_number: str
    name: str
    channel: str
    created: int
    factors: dict[str, str] = field(default_factory=dict)
    phone: str | None = None  # proven by carrier check + SMS code: becomes the bound phone
    phone_pending: str | None = None
    phone_reference: str | None = None
    password_hash: str | None = None
    linked: dict[str, Any] | None = None  # {issuer, subject, acr, level} of R-12
    tx: str | None = None  # the waiting login transaction (pages only)

    @property
    def level(self) -> int:
        if self.linked is not None:
            return int(self.linked["level"])
        return level_for(list(self.factors))

    @property
    def factors_done(self) -> bool:
        return self.linked is not None or len(self.factors) >= REQUIRED_FACTORS

    def remaining_factors(self) -> list[str]:
        if self.linked is not None:
            return []
        return [f.value for f in Factor if f.value not in self.factors]

    def next_steps(self) -> list[str]:
        """What the applicant may do next, for the API's ``next`` member."""
        if not self.factors_done:
            return self.remaining_factors()
        if self.password_hash is None:
            return ["password"] + self.remaining_factors()
        return ["agreement"]


class RegistrationStates:
    """Encrypted persistence of `Registration` in the Store."""

    def __init__(self, store: Store, protector: DataProtector, ttl: int) -> None:
        self._store = store
        self._protector = protector
        self.ttl = ttl

    def new(self, **fields: Any) -> Registration:
        reg = Registration(id=random_token(24), created=int(time.time()), **fields)
        self.save(reg)
        return reg

    def expires_in(self, reg: Registration) -> int:
        return max(0, reg.created + self.ttl - int(time.time()))

    def save(self, reg: Registration) -> None:
        left = self.expires_in(reg)
        if left <= 0:
            raise RegistrationError("not_found")
        token = self._protector.encrypt(json.dumps(asdict(reg), ensure_ascii=False), _CONTEXT)
        self._store.set(self._key(reg.id), token, left)

    def load(self, reg_id: object) -> Registration:
        """The live registration, or `RegistrationError("not_found")`."""
        return self._decode(self._store.get(self._key(reg_id)) if self._valid(reg_id) else None)

    def pop(self, reg_id: str) -> Registration:
        """Take the registration out: of two racing finishers only one gets it."""
        return self._decode(self._store.pop(self._key(reg_id)) if self._valid(reg_id) else None)

    def discard(self, reg_id: str) -> None:
        self._store.delete(self._key(reg_id))

    @staticmethod
    def _valid(reg_id: object) -> bool:
        return isinstance(reg_id, str) and 16 <= len(reg_id) <= 64 and reg_id.isascii()

    @staticmethod
    def _key(reg_id: object) -> str:
        return f"reg:{reg_id}"

    def _decode(self, token: str | None) -> Registration:
        if token is None:
            raise RegistrationError("not_found")
        try:
            return Registration(**json.loads(self._protector.decrypt(token, _CONTEXT)))
        except (DecryptionError, ValueError, TypeError) as exc:
            raise RegistrationError("not_found") from exc
