"""The signed-in person as the department system sees it (docs/integration §5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ACR_PREFIX = "urn:idp:acr:realname:"
# Planned (not yet issued by the platform): the enterprise a person acts for and the service
# items their delegated authority covers. Until it is issued, has_authority() is False.
AUTHORITY_CLAIM = "authority"


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
        """The enterprise the person acts for (planned claim; None until issued)."""
        authority = self.claims.get(AUTHORITY_CLAIM)
        org = authority.get("org") if isinstance(authority, dict) else None
        return org if isinstance(org, dict) else None

    def has_authority(self, item: str) -> bool:
        """Whether the person's delegated authority covers service item ``item``.

        Reads the planned ``authority`` claim (``{"org": {...}, "items": [...]}``, R-54);
        the platform does not issue it yet, so today this is always False: a system must
        not grant enterprise business on its absence.
        """
        authority = self.claims.get(AUTHORITY_CLAIM)
        if not isinstance(authority, dict) or not isinstance(authority.get("items"), list):
            return False
        items = [i for i in authority["items"] if isinstance(i, str)]
        return item in items or "*" in items
