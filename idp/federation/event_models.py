"""Events this node received from other nodes (set_receiver.py; issue 6 item 4)."""

from __future__ import annotations

from sqlalchemy import Float, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, CreatedAt

__all__ = ["ReceivedEvent"]


class ReceivedEvent(Base):
    """A SET this node accepted: idempotence by ``(issuer, jti)`` and ordering by ``toe``."""

    __tablename__ = "federation_received_event"
    __table_args__ = (UniqueConstraint("issuer", "jti", name="uq_federation_received_jti"),
                      Index("ix_federation_received_subject", "issuer", "subject"))

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(300))
    jti: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(120))
    toe: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))  # applied | stale | unknown_subject
    received_at: Mapped[CreatedAt]
