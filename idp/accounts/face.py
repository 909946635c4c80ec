"""Face login and face step-up through the face service (R-33; DESIGN.md "Assurance").

The person gives a document number and a photo; we ask the population registry for the
handle of that document's registry photo and the face service to compare, with liveness.
The photo is checked (JPEG/PNG by magic bytes, at most 2 MiB), passed on and never stored.

Every attempt is audited with a masked number and the authorities' references. Failures are
limited per document number and per source address, so the page cannot be used to test
photos against someone's registry picture. An unknown document number costs a failure and
gets the same answer as a face that does not match: the page reveals no account's existence.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.accounts.lockout import person_subject, record, unknown_subject
from idp.accounts.models import Person
from idp.accounts.service import Accounts, AccountUnavailable, ensure_can_sign_in
from idp.accounts.stepup import FACE_DOCUMENT_TYPES, face_level
from idp.crypto import mask_id_number
from idp.ratelimit import Limit, RateLimiter
from idp.realname.sources import (
    AuthorityError,
    AuthorityRejected,
    DocumentType,
    FaceService,
    InvalidCheckRequest,
    PopulationRegistry,
    Verdict,
)
from idp.settings import Settings

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 2 * 1024 * 1024
_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


class FaceOutcome(enum.StrEnum):
    OK = "ok"
    NO_MATCH = "no_match"  # face differs, or no such account (indistinguishable on purpose)
    LIVENESS = "liveness"  # the photo is not of a live person (a print, a screen)
    BAD_IMAGE = "bad_image"  # empty, too large, not JPEG/PNG
    UNSUPPORTED = "unsupported"  # the document has no registry photo (permits, passports)
    THROTTLED = "throttled"  # too many failures for this document or address; ``retry_in``
    SERVICE_DOWN = "service_down"  # registry or face service unavailable: offer other methods
    UNAVAILABLE = "unavailable"  # face right, but the account is banned or closed


@dataclass(frozen=True)
class FaceResult:
    outcome: FaceOutcome
    person: Person | None = None
    level: int = 0  # the session level this match is worth (stepup.face_level)
    retry_in: int = 0
    status: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is FaceOutcome.OK


def image_problem(image: bytes) -> str | None:
    """Why an upload cannot be a face photo (None: acceptable); judged by content, not name."""
    if not image:
        return "empty"
    if len(image) > MAX_IMAGE_BYTES:
        return "too_large"
    if not any(image.startswith(magic) for magic in _MAGIC):
        return "type"
    return None


class FaceLogin:
    """Face attempts from one source address over one database session (R-33, R-70)."""

    def __init__(self, session: Session, accounts: Accounts, limiter: RateLimiter,
                 settings: Settings, registry: PopulationRegistry, face: FaceService,
                 address: str) -> None:
        self.session = session
        self.accounts = accounts
        self.limiter = limiter
        self.secret_key = settings.secret_key
        self.address = address or "-"
        window = settings.face_window_seconds
        self._per_document = Limit("face-doc", max(1, settings.face_failures_per_document),
                                   window)
        self._per_address = Limit("face-addr", max(1, settings.face_failures_per_address),
                                  window)
        self.registry = registry
        self.face = face

    def login(self, id_number: str, image: bytes) -> FaceResult:
        """Sign in by document number and face (R-33)."""
        masked = mask_id_number(id_number.strip()[:64])
        person = self.accounts.by_document(id_number)
        subject = (person_subject(person) if person is not None
                   else unknown_subject(self.secret_key, id_number))
        return self._attempt(person, subject, masked, image, "account:login")

    def step_up(self, person: Person, image: bytes) -> FaceResult:
        """Raise a signed-in person's session with a face match (issue 3 item 5)."""
        number = self.accounts.id_number(person)
        return self._attempt(person, person_subject(person), mask_id_number(number), image,
                             "account:stepup")

    # -- one attempt -----------------------------------------------------------------------------

    def _attempt(self, person: Person | None, subject: str, masked: str, image: bytes,
                 action: str) -> FaceResult:
        wait = self._blocked_for(subject)
        if wait:
            self._audit(f"{action}:failure", person, "throttled", masked, reason="throttled")
            return FaceResult(FaceOutcome.THROTTLED, retry_in=wait)
        problem = image_problem(image)
        if problem:
            self._audit(f"{action}:failure", person, "failure", masked, reason=f"image_{problem}")
            return FaceResult(FaceOutcome.BAD_IMAGE)
        if person is None:
            self._fail(subject)
            self._audit(f"{action}:failure", None, "failure", masked, reason="unknown_account")
            return FaceResult(FaceOutcome.NO_MATCH)
        if person.id_type not in FACE_DOCUMENT_TYPES:
            self._audit(f"{action}:failure", person, "failure", masked, reason="unsupported")
            return FaceResult(FaceOutcome.UNSUPPORTED)
        outcome, refs = self._compare(person, image)
        if outcome is not FaceOutcome.OK:
            if outcome in (FaceOutcome.NO_MATCH, FaceOutcome.LIVENESS):
                self._fail(subject)
            self._audit(f"{action}:failure", person, "failure", masked, reason=outcome.value,
                        **refs)
            return FaceResult(outcome)
        return self._matched(person, subject, masked, action, refs)

    def _matched(self, person: Person, subject: str, masked: str, action: str,
                 refs: dict[str, str]) -> FaceResult:
        self.limiter.clear(self._per_document, subject)
        try:
            ensure_can_sign_in(person)
        except AccountUnavailable as exc:
            self._audit(f"{action}:failure", person, "refused", masked, reason=exc.code, **refs)
            return FaceResult(FaceOutcome.UNAVAILABLE, person=person, status=exc.status)
        level = face_level(person.realname_level)
        self._audit(f"{action}:success", person, "success", masked, level=level, **refs)
        return FaceResult(FaceOutcome.OK, person=person, level=level)

    def _compare(self, person: Person, image: bytes) -> tuple[FaceOutcome, dict[str, str]]:
        """Registry photo handle, then the comparison; authority trouble is SERVICE_DOWN."""
        refs: dict[str, str] = {}
        try:
            photo = self.registry.photo_reference(
                self.accounts.name(person), DocumentType(FACE_DOCUMENT_TYPES[person.id_type]),
                self.accounts.id_number(person))
            refs["registry_ref"] = photo.reference
            if photo.verdict is not Verdict.MATCH or not photo.photo_ref:
                # The registry no longer vouches for this document (cancelled, deceased).
                return FaceOutcome.NO_MATCH, {**refs, "registry": photo.verdict.value}
            result = self.face.compare(photo.photo_ref, image)
        except InvalidCheckRequest:
            return FaceOutcome.BAD_IMAGE, refs
        except AuthorityError as exc:
            level = logging.ERROR if isinstance(exc, AuthorityRejected) else logging.WARNING
            log.log(level, "face login: %s could not be consulted (%s)", exc.authority.value,
                    exc.code)
            return FaceOutcome.SERVICE_DOWN, {**refs, "authority": exc.authority.value,
                                              "error": exc.code}
        refs["face_ref"] = result.reference
        if result.matched:
            return FaceOutcome.OK, refs
        if not result.liveness_passed:
            return FaceOutcome.LIVENESS, refs
        return FaceOutcome.NO_MATCH, refs

    # -- limits and audit ------------------------------------------------------------------------

    def _blocked_for(self, subject: str) -> int:
        for limit, key in ((self._per_address, self.address), (self._per_document, subject)):
            if not self.limiter.test(limit, key):
                return max(1, self.limiter.resets_in(limit, key))
        return 0

    def _fail(self, subject: str) -> None:
        self.limiter.hit(self._per_address, self.address)
        self.limiter.hit(self._per_document, subject)

    def _audit(self, action: str, person: Person | None, outcome: str, masked: str,
               **details: object) -> None:
        record(self.session, action, person=person, address=self.address, outcome=outcome,
               method="face", identifier=masked, **details)
