"""HTTP implementations of the element-check ports (docs/authorities.md; R-10, R-33).

Each client sends only the elements being checked and reads back a verdict and the
authority's reference; the answer never carries the authority's record (R-70).
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from idp.crypto import mask_id_number
from idp.realname.sources.results import (
    Authority,
    AuthorityUnavailable,
    CheckResult,
    DocumentType,
    FaceResult,
    InvalidCheckRequest,
    PhotoReference,
    Verdict,
)
from idp.realname.sources.transport import Endpoint, SignedJsonClient

log = logging.getLogger(__name__)

_ELEMENT_VERDICTS = frozenset({Verdict.MATCH, Verdict.NO_MATCH})
_REGISTRY_VERDICTS = frozenset(Verdict)
DEFAULT_MAX_IMAGE_BYTES = 2 * 1024 * 1024
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def _require(**fields: str) -> None:
    """Refuse empty elements before they cost an authority call."""
    for name, value in fields.items():
        if not isinstance(value, str) or not value.strip():
            raise InvalidCheckRequest(f"{name} is required")


def _verdict(authority: Authority, data: dict[str, Any], allowed: frozenset[Verdict]) -> Verdict:
    try:
        verdict = Verdict(data.get("verdict"))
    except ValueError:
        verdict = None
    if verdict not in allowed:
        raise AuthorityUnavailable(authority, "answer has no valid verdict", code="bad_answer")
    return verdict


def _reference(authority: Authority, data: dict[str, Any]) -> str:
    ref = data.get("reference")
    if not isinstance(ref, str) or not ref:
        raise AuthorityUnavailable(authority, "answer has no reference", code="bad_answer")
    return ref


class _ElementCheck:
    """Shared shape of the three- and four-element checks: POST, read verdict + reference."""

    authority: Authority
    path: str

    def __init__(self, endpoint: Endpoint) -> None:
        self._client = SignedJsonClient(self.authority, endpoint)

    def _check(self, id_number: str, payload: dict[str, str]) -> CheckResult:
        _require(**payload)
        data = self._client.post(self.path, payload)
        result = CheckResult(self.authority, _verdict(self.authority, data, _ELEMENT_VERDICTS),
                             _reference(self.authority, data))
        log.info("%s check for %s: %s (ref %s)", self.authority.value,
                 mask_id_number(id_number), result.verdict.value, result.reference)
        return result


class HttpCarrierCheck(_ElementCheck):
    """Carrier three-element check over HTTP."""

    authority = Authority.CARRIER
    path = "/carrier/v1/three-element"

    def three_element(self, name: str, id_number: str, phone: str) -> CheckResult:
        return self._check(id_number, {"name": name, "id_number": id_number, "phone": phone})


class HttpBankCardCheck(_ElementCheck):
    """Bank card four-element check over HTTP."""

    authority = Authority.BANK
    path = "/bank/v1/four-element"

    def four_element(self, name: str, id_number: str, card_number: str, phone: str) -> CheckResult:
        return self._check(id_number, {"name": name, "id_number": id_number,
                                       "card_number": card_number, "phone": phone})


class HttpSocialSecurityCheck(_ElementCheck):
    """Social security card check over HTTP."""

    authority = Authority.SOCIAL_SECURITY
    path = "/social-security/v1/card"

    def card(self, name: str, id_number: str, card_number: str) -> CheckResult:
        return self._check(id_number, {"name": name, "id_number": id_number,
                                       "card_number": card_number})


class HttpProvidentFundCheck(_ElementCheck):
    """Housing provident fund account check over HTTP."""

    authority = Authority.PROVIDENT_FUND
    path = "/provident-fund/v1/account"

    def account(self, name: str, id_number: str, account_number: str) -> CheckResult:
        return self._check(id_number, {"name": name, "id_number": id_number,
                                       "account_number": account_number})


class HttpDrivingLicenceCheck(_ElementCheck):
    """Driving licence file number check over HTTP."""

    authority = Authority.DRIVING_LICENCE
    path = "/traffic/v1/licence-file"

    def file_number(self, name: str, id_number: str, file_number: str) -> CheckResult:
        return self._check(id_number, {"name": name, "id_number": id_number,
                                       "file_number": file_number})


class HttpPopulationRegistry:
    """Population registry over HTTP: identity verification and registry photo handle."""

    authority = Authority.POPULATION_REGISTRY

    def __init__(self, endpoint: Endpoint) -> None:
        self._client = SignedJsonClient(self.authority, endpoint)

    def _payload(self, name: str, document_type: DocumentType, number: str) -> dict[str, str]:
        _require(name=name, document_number=number)
        try:
            kind = DocumentType(document_type)
        except ValueError as exc:
            raise InvalidCheckRequest("unsupported document type") from exc
        return {"name": name, "document_type": kind.value, "document_number": number}

    def verify(self, name: str, document_type: DocumentType, number: str) -> CheckResult:
        data = self._client.post("/population/v1/verify",
                                 self._payload(name, document_type, number))
        result = CheckResult(self.authority, _verdict(self.authority, data, _REGISTRY_VERDICTS),
                             _reference(self.authority, data))
        log.info("population registry check for %s: %s (ref %s)", mask_id_number(number),
                 result.verdict.value, result.reference)
        return result

    def photo_reference(
        self, name: str, document_type: DocumentType, number: str
    ) -> PhotoReference:
        data = self._client.post("/population/v1/photo-reference",
                                 self._payload(name, document_type, number))
        verdict = _verdict(self.authority, data, _REGISTRY_VERDICTS)
        photo_ref = data.get("photo_ref")
        if verdict is Verdict.MATCH and not (isinstance(photo_ref, str) and photo_ref):
            raise AuthorityUnavailable(self.authority, "match without photo_ref",
                                       code="bad_answer")
        return PhotoReference(verdict, photo_ref if verdict is Verdict.MATCH else None,
                              _reference(self.authority, data))


class HttpFaceService:
    """Face comparison with liveness over HTTP; images are checked for size and type first."""

    authority = Authority.FACE

    def __init__(self, endpoint: Endpoint, max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> None:
        self._client = SignedJsonClient(self.authority, endpoint)
        self.max_image_bytes = max_image_bytes

    def compare(self, photo_ref: str, image: bytes) -> FaceResult:
        _require(photo_ref=photo_ref)
        if not image:
            raise InvalidCheckRequest("image is empty")
        if len(image) > self.max_image_bytes:
            raise InvalidCheckRequest(f"image exceeds {self.max_image_bytes} bytes")
        if not image.startswith(_IMAGE_MAGIC):
            raise InvalidCheckRequest("image must be JPEG or PNG")
        data = self._client.post("/face/v1/compare", {
            "photo_ref": photo_ref, "image": base64.b64encode(image).decode("ascii")})
        return self._result(data)

    def _result(self, data: dict[str, Any]) -> FaceResult:
        score, liveness = data.get("score"), data.get("liveness")
        if (not isinstance(score, int | float) or isinstance(score, bool)
                or not 0 <= score <= 1 or liveness not in ("pass", "fail")):
            raise AuthorityUnavailable(self.authority, "answer has no valid score/liveness",
                                       code="bad_answer")
        result = FaceResult(_verdict(self.authority, data, _ELEMENT_VERDICTS), float(score),
                            liveness == "pass", _reference(self.authority, data))
        log.info("face comparison: %s score %.2f liveness %s (ref %s)", result.verdict.value,
                 result.score, liveness, result.reference)
        return result
