"""Uploaded business licence images for remote comparison (R-21).

The type is decided by magic bytes, never by the file name or the browser's content type:
JPEG, PNG or PDF only, within ``licence_image_max_bytes``. The image is stored as bytes in
the database with a random public id, linked to the legal person it helped open, and served
only to that legal person's representative, as an attachment with its own content type,
``nosniff`` and a sandboxing CSP — never rendered as HTML by us or the browser.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import ForeignKey, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.db import Base, CreatedAt

TYPES: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"%PDF-", "application/pdf", "pdf"),
)
MIN_BYTES = 64  # anything smaller cannot be a photo or scan of a licence

MESSAGES: dict[str, tuple[str, str]] = {
    "image_missing": ("请上传营业执照图片", "Upload an image of the business licence"),
    "image_type": ("营业执照图片须为 JPG、PNG 或 PDF 文件",
                   "The licence image must be a JPEG, PNG or PDF file"),
    "image_too_large": ("营业执照图片过大", "The licence image is too large"),
}


class LicenceImageError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        zh, en = MESSAGES[code]
        self.message = zh
        self.messages = {"zh": zh, "en": en}


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    content_type: str
    extension: str
    sha256: str


def check_image(data: bytes | None, max_bytes: int) -> CheckedImage:
    """Accept a JPEG, PNG or PDF by its magic bytes and size; refuse anything else."""
    if not data:
        raise LicenceImageError("image_missing")
    if len(data) > max_bytes:
        raise LicenceImageError("image_too_large")
    if len(data) < MIN_BYTES:
        raise LicenceImageError("image_type")
    for magic, content_type, extension in TYPES:
        if data.startswith(magic):
            return CheckedImage(data, content_type, extension,
                                hashlib.sha256(data).hexdigest())
    raise LicenceImageError("image_type")


class LicenceImage(Base):
    """One stored licence image, bound to the legal person whose opening it supported."""

    __tablename__ = "legal_person_licence_image"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(43), unique=True)
    legal_person_id: Mapped[int] = mapped_column(
        ForeignKey("legal_person.id", ondelete="CASCADE"), index=True)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("person.id"))
    content_type: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[CreatedAt]


def store_image(session: Session, image: CheckedImage, legal_person_id: int,
                person_id: int) -> LicenceImage:
    """Keep the image in the caller's transaction (it commits with the account)."""
    row = LicenceImage(public_id=secrets.token_urlsafe(24), legal_person_id=legal_person_id,
                       uploaded_by=person_id, content_type=image.content_type,
                       sha256=image.sha256, data=image.data)
    session.add(row)
    session.flush()
    return row


def images_of(session: Session, legal_person_id: int) -> list[LicenceImage]:
    return list(session.scalars(select(LicenceImage).where(
        LicenceImage.legal_person_id == legal_person_id).order_by(LicenceImage.id)))


def find(session: Session, legal_person_id: int, public_id: str) -> LicenceImage | None:
    return session.scalars(select(LicenceImage).where(
        LicenceImage.legal_person_id == legal_person_id,
        LicenceImage.public_id == public_id)).one_or_none()


def extension_of(content_type: str) -> str:
    return next((ext for _, ct, ext in TYPES if ct == content_type), "bin")


ATTACHMENT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "no-store",
}
