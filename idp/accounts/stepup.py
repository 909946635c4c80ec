"""Step-up: what stands between a session's level and the level a client asks for.

DESIGN.md "Assurance": ``urn:idp:acr:realname:1`` online three-factor, ``…:2`` online plus a
strong factor (bank card four-element, face match, online ID card), ``…:3`` verified in
person at a counter. A session's level can be raised online only to 2, by a face match
against the population registry photo (R-33); level 3 needs a counter visit and can never be
reached online — the page says so instead of pretending (issue 3 item 5).

No Flask here; `idp.web.stepup` renders the plan.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

ACR_PREFIX = "urn:idp:acr:realname:"
FACE_LEVEL = 2  # what a face match proves (DESIGN.md "Assurance")
COUNTER_LEVEL = 3

# Account document types whose photo the population registry holds (docs/authorities.md §2);
# the face service can only compare against those. Permits and passports have no registry
# photo here, so their holders cannot use face login or face step-up.
FACE_DOCUMENT_TYPES = {
    "resident_id": "resident_id",
    "hkmo_residence": "hk_macao_residence_permit",
    "tw_residence": "taiwan_residence_permit",
    "foreign_permanent": "foreign_permanent_residence",
}


def acr_for_level(level: int) -> str:
    """Real-name level as published ``acr`` (same rule as `idp.web.sso.acr_for_level`)."""
    return f"{ACR_PREFIX}{level}"


def level_of_acr(acr: str | None) -> int:
    """The level in a realname ``acr``; 0 for anything else."""
    if isinstance(acr, str) and acr.startswith(ACR_PREFIX) and acr[len(ACR_PREFIX):].isdigit():
        return int(acr[len(ACR_PREFIX):])
    return 0


def face_level(account_level: int) -> int:
    """The session level after a face match: at least 2, never below the account's own.

    The rule (documented against DESIGN.md "Assurance"): the face is compared with the
    registry photo of the account's own, already verified document, so a match is the
    strong factor of level 2 for this login. The account's stored level stays as it is —
    the next password login is worth the account's level again — because the stored level
    records how the identity was verified at registration, not how one login was made.
    """
    return max(account_level, FACE_LEVEL)


class Missing(enum.StrEnum):
    NOTHING = "nothing"  # the session already reaches the level
    FACE = "face"  # a face match raises the session to level 2
    COUNTER = "counter"  # level 3: only an in-person check at a counter
    UNAVAILABLE = "unavailable"  # level 2 but no online factor fits this account


@dataclass(frozen=True)
class StepUpPlan:
    """What the person must do to reach ``required`` from ``current``."""

    current: int
    required: int
    missing: Missing

    @property
    def online(self) -> bool:
        return self.missing is Missing.FACE


def plan(current: int, required: int, *, account_level: int, id_type: str,
         face_available: bool = True) -> StepUpPlan:
    """Choose the missing factor (issue 3 item 5: "leads the user through the missing factor").

    An account already verified at the counter (level 3) only lacks a stronger login, so
    face brings it to level 3 via `face_level`; otherwise level 3 is out of reach online.
    """
    if current >= required:
        return StepUpPlan(current, required, Missing.NOTHING)
    reachable = face_level(account_level) if id_type in FACE_DOCUMENT_TYPES else current
    if required >= COUNTER_LEVEL and reachable < required:
        return StepUpPlan(current, required, Missing.COUNTER)
    if id_type in FACE_DOCUMENT_TYPES and face_available:
        return StepUpPlan(current, required, Missing.FACE)
    return StepUpPlan(current, required, Missing.UNAVAILABLE)
