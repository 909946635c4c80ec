"""Bans and unban requests of natural-person accounts (R-51, R-52; issue 5 item 4).

A `Ban` records who banned an account, when, why, on which legal basis and for which
managing department; it is *lifted* (not deleted) when an unban is approved, so the account's
history keeps every ban. An `UnbanRequest` is the two-person half of R-52: a manager asks,
a department head of the managing department approves or refuses, never the same person.
Staff are referenced by `StaffMember` id (stable across sign-ins) and by the audit actor
string seen at the time (the directory may rename people later).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, CreatedAt, UTCDateTime

REASON_MAX = 200
DEPARTMENT_MAX = 128


class UnbanStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class Ban(Base):
    """One ban of an account; ``lifted_at`` is set when an approved unban ends it."""

    __tablename__ = "account_ban"
    __table_args__ = (Index("ix_account_ban_person_id", "person_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    banned_by: Mapped[int] = mapped_column(ForeignKey("staff_member.id"))
    banned_by_actor: Mapped[str] = mapped_column(String(128))
    department: Mapped[str] = mapped_column(String(DEPARTMENT_MAX))  # managing department
    reason: Mapped[str] = mapped_column(String(REASON_MAX))
    legal_basis: Mapped[str] = mapped_column(String(REASON_MAX))
    created_at: Mapped[CreatedAt]
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The approved `UnbanRequest` id; no foreign key, as requests already reference bans
    # (a cycle would stop table creation from being ordered).
    lifted_by_request: Mapped[int | None] = mapped_column()


class UnbanRequest(Base):
    """A manager's request to lift a ban, and the department head's decision on it."""

    __tablename__ = "unban_request"
    __table_args__ = (Index("ix_unban_request_person_id", "person_id", "id"),
                      Index("ix_unban_request_status", "status", "department"))

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    ban_id: Mapped[int] = mapped_column(ForeignKey("account_ban.id", ondelete="CASCADE"))
    department: Mapped[str] = mapped_column(String(DEPARTMENT_MAX))  # the ban's department
    requested_by: Mapped[int] = mapped_column(ForeignKey("staff_member.id"))
    requested_by_actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(REASON_MAX))
    status: Mapped[str] = mapped_column(String(16), default=UnbanStatus.PENDING.value)
    created_at: Mapped[CreatedAt]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_member.id"))
    decided_by_actor: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
