"""OIDC persistent state: clients, signing keys, refresh tokens, consents.

Authorization codes and revocation markers are ephemeral and live in the Store (codes.py,
revocation.py); everything here must survive a restart.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, CreatedAt, UTCDateTime

__all__ = ["Client", "Consent", "RefreshToken", "SigningKey"]

CONFIDENTIAL_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")


class Client(Base):
    """A department system registered as a relying party (OIDC Registration §2 metadata).

    Implements authlib's ``ClientMixin`` protocol on a typed model (STYLE.md). The secret is
    stored only as ``crypto.keyed_digest`` — random 256-bit secrets need no slow hash.
    """

    __tablename__ = "oidc_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_digest: Mapped[str | None] = mapped_column(String(64))
    is_public: Mapped[bool] = mapped_column(default=False)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(500))
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(String(500), default="openid")
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32),
                                                            default="client_secret_basic")
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(String(500))
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(8), default="ES256")
    subject_type: Mapped[str] = mapped_column(String(16), default="public")
    skip_consent: Mapped[bool] = mapped_column(default=False)
    allow_idcard: Mapped[bool] = mapped_column(default=False)
    disabled: Mapped[bool] = mapped_column(default=False)
    # Access policy enforced at /authorize (issue 2 item 7).
    allowed_account_kinds: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["natural"])
    min_realname_level: Mapped[int] = mapped_column(default=1)
    require_mfa: Mapped[bool] = mapped_column(default=False)
    # Service items offered (issue 4 item 7, R-54): [{"code", "name", "name_en"}], the
    # units of delegated authority (idp/oidc/service_items.py).
    service_items: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # Clients whose APIs this client may exchange a person's token for (RFC 8693, exchange.py).
    exchange_audiences: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[CreatedAt]
    secret_rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    # -- authlib ClientMixin ----------------------------------------------------------------

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OIDC Core §3.1.2.1: redirect_uri is REQUIRED; a default only when unambiguous.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Requested scopes this client may have, in request order (RFC 6749 §3.3)."""
        allowed = set(self.scope.split())
        requested = (scope or "").split()
        return " ".join(dict.fromkeys(s for s in requested if s in allowed))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match (OIDC Core §3.1.2.1, RFC 9700 §4.1.3).
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        from idp.crypto import keyed_digest

        if not self.secret_digest or not isinstance(client_secret, str):
            return False
        if len(client_secret) > 256:
            return False
        # The server sets the node key on each loaded instance (server.query_client).
        node_key = getattr(self, "node_secret_key", "")
        if not node_key:
            return False
        return hmac.compare_digest(keyed_digest(node_key, client_secret), self.secret_digest)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none"
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    @property
    def client_metadata(self) -> dict[str, Any]:
        """Registration metadata as authlib's RP-initiated logout endpoint reads it."""
        return {"post_logout_redirect_uris": list(self.post_logout_redirect_uris)}

    @property
    def scope_set(self) -> set[str]:
        return set(self.scope.split())


class SigningKey(Base):
    """A token signing key (DESIGN.md "Tokens"); the private JWK is encrypted at rest."""

    __tablename__ = "oidc_signing_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(8))
    private_jwk_enc: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[CreatedAt]
    # When a newer key took over signing; the key stays published until `publish_until`.
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    publish_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class RefreshToken(Base):
    """One opaque refresh token, stored as a keyed digest; rotated on every use.

    Tokens descending from one authorization share ``family_id``: presenting a rotated
    token again revokes the whole family (RFC 9700 §4.14.2).
    """

    __tablename__ = "oidc_refresh_token"
    __table_args__ = (
        Index("ix_oidc_refresh_token_family_id", "family_id"),
        Index("ix_oidc_refresh_token_person_id", "person_id"),
        Index("ix_oidc_refresh_token_sid", "sid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    sid: Mapped[str | None] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(500))
    epoch: Mapped[int] = mapped_column(default=0)
    auth_time: Mapped[int] = mapped_column(default=0)
    acr: Mapped[str] = mapped_column(String(64), default="")
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The legal person the grant acts for (idp/oidc/acting.py `ActingRef`), re-checked on use.
    acting: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    issued_at: Mapped[CreatedAt]
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    # -- authlib TokenMixin (the parts the refresh grant and RFC 7009/7662 use) -------------

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope


class Consent(Base):
    """Scopes a person has agreed to release to a client (OIDC Core §3.1.2.4)."""

    __tablename__ = "oidc_consent"
    __table_args__ = (UniqueConstraint("person_id", "client_id",
                                       name="uq_oidc_consent_person_id_client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(500))
    granted_at: Mapped[CreatedAt]
