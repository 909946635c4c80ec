"""The signed-in person as the department system sees it (docs/integration §5)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

ACR_PREFIX = "urn:idp:acr:realname:"
# Enterprise claims (R-54, docs/integration §5.3), present only while a person acts for a
# legal person: ``org`` names the enterprise, ``authority`` what the person may do for it.
ORG_CLAIM = "org"
AUTHORITY_CLAIM = "authority"
ROLES = ("representative", "delegate")


def level_of(acr: Any) -> int | None:
    """The real-name level in ``urn:idp:acr:realname:N``, or None for anything else."""
    if isinstance(acr, str) and acr.startswith(ACR_PREFIX):
        digits = acr[len(ACR_PREFIX):]
        if digits.isdigit() and 1 <= int(digits) <= 3:
            return int(digits)
    return None


def acr_for_level(level: int) -> str:
    if not 1 <= level <= 3:
        raise ValueError("real-name levels are 1, 2 and 3")
    return f"{ACR_PREFIX}{level}"


@dataclass(frozen=True)
class User:
    """Claims of the ID token merged with userinfo; tokens stay in the session store."""

    claims: dict[str, Any]

    @property
    def sub(self) -> str:
        return str(self.claims["sub"])

    @property
    def sid(self) -> str | None:
        return self.claims.get("sid")

    @property
    def acr(self) -> str | None:
        return self.claims.get("acr")

    @property
    def level(self) -> int | None:
        """Real-name level of this sign-in (1 online, 2 strong factor, 3 in person)."""
        return level_of(self.acr)

    @property
    def amr(self) -> list[str]:
        return list(self.claims.get("amr") or [])

    @property
    def name(self) -> str | None:
        """Full name with scope ``realname``; masked (``张*``) with ``profile`` only."""
        return self.claims.get("name")

    @property
    def acting_for(self) -> dict[str, Any] | None:
        """The enterprise (``credit_code``, ``name``, ``type``) the person acts for, or None."""
        org = self.claims.get(ORG_CLAIM)
        if not isinstance(org, dict) or not isinstance(org.get("credit_code"), str):
            return None
        return org

    @property
    def authority(self) -> dict[str, Any] | None:
        """``{"role", "level", "chain", "items", "valid_until"}`` while acting for an
        enterprise; None otherwise or when the claim is malformed (then nothing is granted)."""
        authority = self.claims.get(AUTHORITY_CLAIM)
        if self.acting_for is None or not isinstance(authority, dict):
            return None
        if authority.get("role") not in ROLES or not isinstance(authority.get("items"), list):
            return None
        until = authority.get("valid_until")
        if until is not None and (not isinstance(until, int | float) or isinstance(until, bool)):
            return None
        return authority

    @property
    def authority_items(self) -> list[str]:
        """The service items the authority covers (``["*"]``: every item)."""
        authority = self.authority
        return [i for i in authority["items"] if isinstance(i, str)] if authority else []

    def has_authority(self, item: str, now: float | None = None) -> bool:
        """Whether the person may act for the enterprise on service item ``item``.

        True only while acting for an enterprise, with ``item`` (or ``"*"``) among the
        items, and before ``valid_until`` (null: no end date, e.g. a legal representative).
        The claims are those of sign-in: an authority that expires during the session stops
        counting at once, without a new sign-in.
        """
        authority = self.authority
        if authority is None or not (item in self.authority_items or "*" in self.authority_items):
            return False
        until = authority.get("valid_until")
        return until is None or float(until) > (time.time() if now is None else now)
