"""Console tables: the staff second factor, counter document scans (issue 5).

A staff member's TOTP secret is keyed by `idp.staff.models.StaffMember` id, apart from the
citizens' `idp.accounts.models.TotpCredential`: staff and citizens are different people
even when they share a name, and a staff credential must never sign a citizen in.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, CreatedAt, UTCDateTime


class StaffTotpCredential(Base):
    """RFC 6238 secret (encrypted) of one staff member; unconfirmed until the first code."""

    __tablename__ = "staff_totp_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_member_id: Mapped[int] = mapped_column(
        ForeignKey("staff_member.id", ondelete="CASCADE"), unique=True)
    secret_enc: Mapped[str] = mapped_column(String(255))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_used_step: Mapped[int] = mapped_column(default=0)  # each step is accepted once
    created_at: Mapped[CreatedAt]


class CounterDocumentScan(Base):
    """A document scan taken at a legal-person counter registration (R-22).

    The bytes are encrypted (base64, then `idp.crypto.DataProtector`, context
    ``counter.scan``): they show ID cards and signatures. Type and size were checked by
    magic bytes (`idp.orgs.licence.check_image`); only `admin_ui.scans` serves them, to the
    staff member who took them and to auditors.
    """

    __tablename__ = "counter_document_scan"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_person_id: Mapped[int] = mapped_column(
        ForeignKey("legal_person.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # business_licence, power_of_attorney, …
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    data_enc: Mapped[str] = mapped_column(Text)
    staff_member_id: Mapped[int] = mapped_column(ForeignKey("staff_member.id"))
    created_at: Mapped[CreatedAt]


class StaffTotpReset(Base):
    """A pending authenticator reset: the one-time enrolment code's keyed digest (issue 5).

    After a reset the staff member may enrol a new authenticator only with this code, handed
    over out of band by the resetting administrator (`admin_ui.enrolment_code`); the row is
    deleted when the code is used. The code itself is never stored.
    """

    __tablename__ = "staff_totp_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_member_id: Mapped[int] = mapped_column(
        ForeignKey("staff_member.id", ondelete="CASCADE"), unique=True)
    code_digest: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    reset_by: Mapped[str] = mapped_column(String(128))  # the administrator's audit actor
    created_at: Mapped[CreatedAt]
