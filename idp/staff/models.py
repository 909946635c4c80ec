"""Staff tables: local accounts (demo, break-glass) and the record of who signed in (issue 5).

Directory accounts are never copied with their passwords: `StaffMember` keeps only what the
console needs to name a staff member in history and approvals (R-52, R-53) — a stable id,
the username, the name, department and roles seen at the last sign-in.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, CreatedAt, UTCDateTime, utcnow


class LocalStaffAccount(Base):
    """A staff account kept in our own database, password hashed with argon2id.

    ``breakglass`` accounts are used only by the break-glass path of
    `idp.staff.service.StaffSignIn` (when the directory is down, by default); the others form
    the embedded `LocalDirectory` of the demo.
    """

    __tablename__ = "staff_local_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username_key: Mapped[str] = mapped_column(String(64), unique=True)  # casefolded
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(128))
    department: Mapped[str] = mapped_column(String(128), default="")
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(default=False)
    breakglass: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[CreatedAt]
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StaffMember(Base):
    """A staff member as last seen at sign-in, keyed by source and username."""

    __tablename__ = "staff_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)  # "<source>:<casefolded name>"
    username: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(128))
    department: Mapped[str] = mapped_column(String(128), default="")
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    dn: Mapped[str] = mapped_column(String(512), default="")
    first_seen_at: Mapped[CreatedAt]
    last_login_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
