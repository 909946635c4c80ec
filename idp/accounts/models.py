"""Natural-person accounts and their credentials (R-01, R-03, R-30, R-70)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.db import Base, CreatedAt, UTCDateTime, utcnow


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    BANNED = "banned"
    CLOSED = "closed"


class IdType(enum.StrEnum):
    """Identity documents accepted for natural persons (R-03)."""

    RESIDENT_ID = "resident_id"  # 居民身份证
    HKMO_RESIDENCE = "hkmo_residence"  # 港澳居民居住证
    TW_RESIDENCE = "tw_residence"  # 台湾居民居住证
    FOREIGN_PERMANENT = "foreign_permanent"  # 外国人永久居留身份证
    HKMO_PERMIT = "hkmo_permit"  # 港澳居民来往内地通行证
    TW_PERMIT = "tw_permit"  # 台湾居民来往大陆通行证
    PASSPORT = "passport"


class Channel(enum.StrEnum):
    """Where an account was registered (R-02)."""

    WEB = "web"
    APP = "app"
    COUNTER = "counter"
    KIOSK = "kiosk"
    LINKED = "linked"
    IMPORT = "import"
    FEDERATED = "federated"


def _new_sub() -> str:
    return str(uuid.uuid4())


class Person(Base):
    """A natural person's account. Personal fields are encrypted; ``*_index`` are blind."""

    __tablename__ = "person"
    __table_args__ = (
        UniqueConstraint("id_type", "id_index", name="uq_person_id_type_id_index"),
        Index("ix_person_id_index", "id_index"),
        Index("ix_person_created_at", "created_at"),  # registrations per day (console)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sub: Mapped[str] = mapped_column(String(36), unique=True, default=_new_sub)
    id_type: Mapped[str] = mapped_column(String(32))
    id_number_enc: Mapped[str] = mapped_column(String(255))
    id_index: Mapped[str] = mapped_column(String(64))
    name_enc: Mapped[str] = mapped_column(String(512))
    phone_enc: Mapped[str | None] = mapped_column(String(255))
    phone_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    must_change_password: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default=AccountStatus.ACTIVE.value)
    realname_level: Mapped[int] = mapped_column(default=1)
    channel: Mapped[str] = mapped_column(String(16), default=Channel.WEB.value)
    # Bumped whenever every session and token of the person must die (ban, password reset).
    security_epoch: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    totp: Mapped[TotpCredential | None] = relationship(
        back_populates="person", cascade="all, delete-orphan", uselist=False
    )

    @property
    def is_active(self) -> bool:
        return self.status == AccountStatus.ACTIVE.value


class TotpCredential(Base):
    """An RFC 6238 second factor: 160-bit secret, 6 digits, 30 s, replay refused."""

    __tablename__ = "totp_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), unique=True)
    secret_enc: Mapped[str] = mapped_column(String(255))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_used_step: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[CreatedAt]

    person: Mapped[Person] = relationship(back_populates="totp")


class RecoveryCode(Base):
    """A single-use code that replaces the TOTP factor once; stored as a keyed digest."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    code_digest: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
