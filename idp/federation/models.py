"""Federation persistent state: signing keys, subordinates, directory entries (R-62)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, CreatedAt, UTCDateTime, utcnow

__all__ = ["DirectoryEntry", "FederationKey", "Subordinate"]


class FederationKey(Base):
    """A federation signing key (ES256), separate from the OIDC token keys on purpose.

    A compromised token key must not let anyone speak for the node in the federation, and
    the federation key rotates on its own (slow, announced) schedule.
    """

    __tablename__ = "federation_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(8), default="ES256")
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_jwk_enc: Mapped[str] = mapped_column(Text)  # DataProtector.encrypt
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[CreatedAt]
    publish_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Subordinate(Base):
    """A child node this node vouches for in subordinate statements (OIDF §3.1.1)."""

    __tablename__ = "federation_subordinate"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(300), unique=True)
    node_level: Mapped[str] = mapped_column(String(16))  # province | city
    region: Mapped[str] = mapped_column(String(6))  # delegated GB/T 2260 division code
    jwks: Mapped[dict[str, Any]] = mapped_column(JSON)  # the child's federation keys
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow,
                                                    onupdate=utcnow)


class DirectoryEntry(Base):
    """Directory row: a blind index of a document and the node holding the account.

    Never the number, never a name: ``blind_index`` is an HMAC under the federation-wide
    directory key (docs/federation.md, "Threat model"). ``via`` is the child that passed the
    entry up ("" when the account is on this node).
    """

    __tablename__ = "federation_directory"
    __table_args__ = (Index("ix_federation_directory_home", "home_node"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    blind_index: Mapped[str] = mapped_column(String(64), unique=True)
    home_node: Mapped[str] = mapped_column(String(300))
    via: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[CreatedAt]
