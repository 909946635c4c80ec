"""Authority grants and their scopes (R-42).

A grant gives a person authority for a legal person. Level 1 grants come from the legal
representative (level 0), level 2 from a level-1 grantee, level 3 from a level-2 grantee.
``path`` is the materialised chain of grant ids (``/12/40/77/``) and ``root_grant_id`` the
level-1 ancestor, so a subtree is one indexed query (``root_grant_id = ? AND path LIKE ?``)
and a chain is one ``id IN (…)`` query. Scope items are rows (`GrantScope`), so "which grants
cover client X" is a join on an index.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.db import Base, CreatedAt, UTCDateTime

MAX_LEVEL = 3
WHOLE_CLIENT = "*"


class GrantStatus(enum.StrEnum):
    PENDING = "pending"  # an application waiting for the grantor (R-42 "apply")
    REFUSED = "refused"  # an application the grantor refused
    ACTIVE = "active"
    CANCELLED = "cancelled"
    LAPSED = "lapsed"  # ended without anyone cancelling: review deadline passed


class EndReason(enum.StrEnum):
    CANCELLED = "cancelled"
    ANCESTOR_CANCELLED = "ancestor_cancelled"
    NO_LONGER_FITS = "no_longer_fits"  # a narrowing of an ancestor left nothing to keep
    REDELEGATION_WITHDRAWN = "redelegation_withdrawn"
    WITHDRAWN = "withdrawn"  # the applicant withdrew an application
    RENOUNCED = "renounced"  # the grantee gave the authority up
    REVIEW_EXPIRED = "review_expired"  # not kept by the new representative in time


class Grant(Base):
    """One delegation edge: grantor → grantee for a legal person, with scope and window."""

    __tablename__ = "delegation_grant"
    __table_args__ = (
        Index("ix_delegation_grant_grantee_status", "grantee_person_id", "status"),
        Index("ix_delegation_grant_org_status", "legal_person_id", "status"),
        Index("ix_delegation_grant_root_path", "root_grant_id", "path"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_person_id: Mapped[int] = mapped_column(ForeignKey("legal_person.id"))
    grantor_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    grantee_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    parent_grant_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegation_grant.id"), index=True)
    root_grant_id: Mapped[int | None] = mapped_column(ForeignKey("delegation_grant.id"))
    path: Mapped[str] = mapped_column(String(64), default="")
    level: Mapped[int]
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    may_redelegate: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16))
    # Set on level-1 grants of a previous representative; cleared when kept.
    review_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[CreatedAt]
    created_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    changed_by: Mapped[str | None] = mapped_column(String(64))
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ended_by: Mapped[str | None] = mapped_column(String(64))
    end_reason: Mapped[str | None] = mapped_column(String(32))

    scopes: Mapped[list[GrantScope]] = relationship(
        back_populates="grant", cascade="all, delete-orphan", lazy="selectin",
        order_by="GrantScope.id")

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids of the grants above this one, level 1 first."""
        return [int(part) for part in self.path.strip("/").split("/") if part][:-1]


class GrantScope(Base):
    """One service item of a grant: a client (department system) and an item or ``*``."""

    __tablename__ = "delegation_grant_scope"
    __table_args__ = (
        UniqueConstraint("grant_id", "client_id", "item",
                         name="uq_delegation_grant_scope_grant_id_client_id_item"),
        Index("ix_delegation_grant_scope_client_grant", "client_id", "grant_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("delegation_grant.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    item: Mapped[str] = mapped_column(String(128))

    grant: Mapped[Grant] = relationship(back_populates="scopes")
