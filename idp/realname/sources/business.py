"""The business registry (市场监管/民政/编办 登记机关): legal persons and their representatives.

Used by the legal-person account opening flows (R-20, R-21, R-23; idp/orgs/opening.py).
Contract: docs/authorities.md §12. One endpoint confirms that a unified social credit code
is registered, whether it is in force, its registered name and kind (public registry data,
published by the registries themselves), and — as a verdict only — whether the submitted
name and ID number are its legal representative's. The representative's record itself never
comes back (R-70).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from idp.crypto import mask_id_number
from idp.realname.sources.results import (
    Authority,
    AuthorityUnavailable,
    InvalidCheckRequest,
)
from idp.realname.sources.transport import Endpoint, SignedJsonClient

log = logging.getLogger(__name__)

PATH = "/business/v1/verify"
STATUSES = frozenset({"active", "revoked", "cancelled"})  # 存续 / 吊销 / 注销
KINDS = frozenset({"enterprise", "social_organisation", "public_institution", "other"})
_VERDICTS = frozenset({"match", "no_match"})


@dataclass(frozen=True)
class EnterpriseCheck:
    """The registry's answer about one credit code and one would-be representative."""

    found: bool
    reference: str
    status: str | None = None  # active | revoked | cancelled
    name: str | None = None  # the registered name (public)
    kind: str | None = None  # enterprise | social_organisation | public_institution | other
    representative_matched: bool = False
    name_matched: bool | None = None  # None when no name was submitted

    @property
    def active(self) -> bool:
        return self.found and self.status == "active"


class BusinessRegistry(Protocol):
    """Confirms a legal person and its legal representative (R-20)."""

    def verify(self, credit_code: str, representative_name: str,
               representative_id_number: str, name: str | None = None) -> EnterpriseCheck:
        """Check the code, optionally the entered name, and the representative's identity."""


class HttpBusinessRegistry:
    """The business registry over HTTP, signed as every authority request (transport.py)."""

    authority = Authority.BUSINESS_REGISTRY

    def __init__(self, endpoint: Endpoint) -> None:
        self._client = SignedJsonClient(self.authority, endpoint)

    def verify(self, credit_code: str, representative_name: str,
               representative_id_number: str, name: str | None = None) -> EnterpriseCheck:
        payload = {"credit_code": credit_code, "representative_name": representative_name,
                   "representative_id_number": representative_id_number}
        for key, value in payload.items():
            if not isinstance(value, str) or not value.strip():
                raise InvalidCheckRequest(f"{key} is required")
        if name is not None:
            payload["name"] = name
        result = self._result(self._client.post(PATH, payload), name is not None)
        log.info("business registry check of %s for %s: found=%s status=%s rep=%s (ref %s)",
                 credit_code, mask_id_number(representative_id_number), result.found,
                 result.status, result.representative_matched, result.reference)
        return result

    def _result(self, data: dict[str, Any], name_sent: bool) -> EnterpriseCheck:
        reference = data.get("reference")
        if not isinstance(reference, str) or not reference:
            raise self._bad("answer has no reference")
        verdict = data.get("verdict")
        if verdict == "not_found":
            return EnterpriseCheck(False, reference)
        if verdict not in _VERDICTS:
            raise self._bad("answer has no valid verdict")
        status, kind, name = data.get("status"), data.get("kind"), data.get("name")
        rep, name_match = data.get("representative"), data.get("name_match")
        if status not in STATUSES or kind not in KINDS or not isinstance(name, str) \
                or not name or rep not in _VERDICTS \
                or (name_sent and name_match not in _VERDICTS):
            raise self._bad("answer is incomplete")
        return EnterpriseCheck(True, reference, status, name, kind, rep == "match",
                               (name_match == "match") if name_sent else None)

    def _bad(self, message: str) -> AuthorityUnavailable:
        # A malformed answer is the authority's fault: treat it as unavailable, store nothing.
        return AuthorityUnavailable(self.authority, message, code="bad_answer")


__all__ = ["BusinessRegistry", "EnterpriseCheck", "HttpBusinessRegistry", "KINDS", "STATUSES"]
