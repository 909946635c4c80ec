"""Console tables: the staff second factor (issue 5 item 1).

A staff member's TOTP secret is keyed by `idp.staff.models.StaffMember` id, apart from the
citizens' `idp.accounts.models.TotpCredential`: staff and citizens are different people
even when they share a name, and a staff credential must never sign a citizen in.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
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
