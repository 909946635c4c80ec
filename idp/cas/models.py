"""Registered CAS services (Apereo CAS Protocol 3.0 §2.1.1 ``service``).

A separate table rather than a flag on the OIDC client: a CAS service is named by a URL
pattern, not a client id and redirect URIs, has no secret, and must never be accepted by the
authorization server at ``/authorize``. The access policy columns mirror the OIDC client's
(issue 2 item 7) so the same rules apply to both front-ends.
"""

from __future__ import annotations

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, CreatedAt

__all__ = ["CasService"]


class CasService(Base):
    """A department system that validates CAS service tickets."""

    __tablename__ = "cas_service"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # "exact": the service URL must equal the pattern; "prefix": it must start with it.
    # Patterns are never regular expressions (no ReDoS, no surprising matches).
    match: Mapped[str] = mapped_column(String(8), default="exact")
    pattern: Mapped[str] = mapped_column(String(500))
    scope: Mapped[str] = mapped_column(String(500), default="profile")
    slo_url: Mapped[str | None] = mapped_column(String(500))  # CAS 3.0 Appendix C
    allow_logout_redirect: Mapped[bool] = mapped_column(default=True)
    allowed_account_kinds: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["natural"])
    min_realname_level: Mapped[int] = mapped_column(default=1)
    require_mfa: Mapped[bool] = mapped_column(default=False)
    allow_idcard: Mapped[bool] = mapped_column(default=False)  # the ``idcard`` scope's value
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[CreatedAt]

    @property
    def client_key(self) -> str:
        """How this service appears among an SSO session's clients (sessions.py)."""
        return f"cas:{self.id}"

    @property
    def scope_set(self) -> set[str]:
        return set(self.scope.split())
