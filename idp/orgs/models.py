"""Legal-person accounts and the history of their legal representatives (R-20, R-21, R-63).

The unified social credit code is public registry data, not personal data, so it is stored
as-is (normalised) with a unique constraint: one code is one account (R-63).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, CreatedAt, UTCDateTime, utcnow


class LegalPersonKind(enum.StrEnum):
    """The organisations R-20 names (enterprise, social organisation, public institution…)."""

    ENTERPRISE = "enterprise"  # 企业
    SOCIAL_ORGANISATION = "social_organisation"  # 社会组织
    PUBLIC_INSTITUTION = "public_institution"  # 事业单位
    OTHER = "other"  # 其他组织


class LegalPersonStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class OpeningMethod(enum.StrEnum):
    """How the account was opened (R-20, R-21, R-22, R-23)."""

    REPRESENTATIVE_ONLINE = "representative_online"
    REMOTE_COMPARISON = "remote_comparison"
    E_LICENCE = "e_licence"
    CA_CERTIFICATE = "ca_certificate"
    COUNTER = "counter"


class LegalPerson(Base):
    """A legal-person account, always bound to its representative's personal account."""

    __tablename__ = "legal_person"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=LegalPersonStatus.ACTIVE.value)
    representative_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    opened_by: Mapped[str] = mapped_column(String(32))
    # Bumped by every change to the account or its authority tree; the UPDATE doubles as the
    # row lock that serialises tree changes on every backend (see service.lock_for_update).
    tree_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def is_active(self) -> bool:
        return self.status == LegalPersonStatus.ACTIVE.value


class RepresentativeChange(Base):
    """One change of legal representative (R-21): who, when, how verified, review deadline."""

    __tablename__ = "legal_person_representative_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_person_id: Mapped[int] = mapped_column(
        ForeignKey("legal_person.id", ondelete="CASCADE"), index=True)
    previous_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    new_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    method: Mapped[str] = mapped_column(String(32))
    review_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[CreatedAt]
