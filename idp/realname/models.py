"""Stored acceptance of the service agreement (R-10: "the service agreement … signed last")."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, UTCDateTime, utcnow


class AgreementAcceptance(Base):
    """One person's signature of one agreement version: when, where, and of which text.

    ``text_sha256`` pins the exact wording accepted, so a later edit of a version's file
    cannot change what the person is held to have agreed.
    """

    __tablename__ = "agreement_acceptance"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"),
                                           index=True)
    version: Mapped[str] = mapped_column(String(32))
    text_sha256: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # web | app | kiosk | linked
    accepted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
