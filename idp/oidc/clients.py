"""Client (department system) management: plain functions shared by the CLI, tests and the
admin console (issue 2 item 7). Every change is audited with the caller's ``actor``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit import service as audit
from idp.crypto import keyed_digest, random_token
from idp.db import utcnow
from idp.oidc.claims import SUPPORTED_SCOPES
from idp.oidc.keys import SUPPORTED_ALGS
from idp.oidc.models import CONFIDENTIAL_METHODS, Client
from idp.oidc.service_items import ServiceItemError
from idp.oidc.service_items import parse as parse_service_items

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693 §2.1
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", TOKEN_EXCHANGE)
MAX_EXCHANGE_AUDIENCES = 20
ACCOUNT_KINDS = ("natural", "legal_acting")
SUBJECT_TYPES = ("public", "pairwise")


class ClientError(ValueError):
    """A client registration that cannot be accepted; the message says why."""


@dataclass
class ClientSpec:
    name: str
    redirect_uris: list[str] = field(default_factory=list)
    public: bool = False
    grant_types: list[str] = field(default_factory=lambda: ["authorization_code"])
    scope: str = "openid profile"
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    backchannel_logout_uri: str | None = None
    token_endpoint_auth_method: str | None = None
    jwks: dict[str, Any] | None = None
    id_token_signed_response_alg: str = "ES256"
    subject_type: str = "public"
    skip_consent: bool = False
    allow_idcard: bool = False
    allowed_account_kinds: list[str] = field(default_factory=lambda: ["natural"])
    min_realname_level: int = 1
    require_mfa: bool = False
    service_items: list[Any] = field(default_factory=list)
    exchange_audiences: list[str] = field(default_factory=list)


_FORBIDDEN_SCHEMES = {"javascript", "data", "vbscript", "file"}


def _check_uri(uri: str, what: str) -> None:
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if (parts.fragment or not scheme or scheme in _FORBIDDEN_SCHEMES
            or (scheme in ("http", "https") and not parts.netloc)):
        raise ClientError(f"{what} must be an absolute URI without fragment: {uri!r}")
    if len(uri) > 500:
        raise ClientError(f"{what} is too long")


def validate(spec: ClientSpec) -> None:
    """Refuse inconsistent registrations (OIDC Registration §2); normalises
    ``spec.service_items`` in place (CLI strings become ``{code, name, name_en}``)."""
    if not spec.name.strip() or len(spec.name) > 200:
        raise ClientError("name is required (at most 200 characters)")
    for grant in spec.grant_types:
        if grant not in GRANT_TYPES:
            raise ClientError(f"unknown grant type {grant!r}; choose from {GRANT_TYPES}")
    if "authorization_code" in spec.grant_types and not spec.redirect_uris:
        raise ClientError("the authorization_code grant needs at least one --redirect-uri")
    for uri in spec.redirect_uris + spec.post_logout_redirect_uris:
        _check_uri(uri, "redirect URI")
    if spec.backchannel_logout_uri:
        _check_uri(spec.backchannel_logout_uri, "back-channel logout URI")
    unknown = set(spec.scope.split()) - set(SUPPORTED_SCOPES)
    if unknown:
        raise ClientError(f"unknown scopes {sorted(unknown)}")
    if spec.public and "client_credentials" in spec.grant_types:
        raise ClientError("a public client cannot use client_credentials")
    if spec.public and TOKEN_EXCHANGE in spec.grant_types:
        raise ClientError("a public client cannot use token exchange")
    _check_policy_lists(spec)
    if spec.id_token_signed_response_alg not in SUPPORTED_ALGS:
        raise ClientError(f"id token algorithm must be one of {SUPPORTED_ALGS}")
    if spec.subject_type not in SUBJECT_TYPES:
        raise ClientError(f"subject type must be one of {SUBJECT_TYPES}")
    if not set(spec.allowed_account_kinds) <= set(ACCOUNT_KINDS) or not spec.allowed_account_kinds:
        raise ClientError(f"account kinds must be among {ACCOUNT_KINDS}")
    _check_sensitive(spec)
    if spec.min_realname_level not in (1, 2, 3):
        raise ClientError("minimum real-name level must be 1, 2 or 3")
    method = spec.token_endpoint_auth_method
    if not spec.public and method not in (None, *CONFIDENTIAL_METHODS):
        raise ClientError(f"token auth method must be one of {CONFIDENTIAL_METHODS}")
    if method == "private_key_jwt":
        if not spec.jwks:
            raise ClientError("private_key_jwt needs the client's public keys (--jwks-file)")
        try:
            KeySet.import_key_set(spec.jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ClientError("the JWKS cannot be read") from exc


def _check_sensitive(spec: ClientSpec) -> None:
    """Registrations whose data must not outlive or exceed their approval (issue 4)."""
    if "idcard" in spec.scope.split() and not spec.allow_idcard:
        # A scope the client could never use itself would still travel in its tokens, and
        # a token exchanged for a target allowed the full number would release it.
        raise ClientError("the idcard scope needs allow_idcard (approval for full ID numbers)")
    if "legal_acting" in spec.allowed_account_kinds and not spec.backchannel_logout_uri:
        # Cancelled or narrowed authority ends sessions by back-channel logout; without it
        # the system keeps acting for the enterprise until its own session ends.
        raise ClientError("legal_acting needs a back-channel logout URI "
                          "(--backchannel-logout-uri)")


def _check_policy_lists(spec: ClientSpec) -> None:
    """Service items (issue 4 item 7) and token exchange audiences (RFC 8693)."""
    try:
        spec.service_items = parse_service_items(spec.service_items)
    except (ServiceItemError, TypeError) as exc:
        raise ClientError(f"service items: {exc}") from exc
    audiences = spec.exchange_audiences
    if (not isinstance(audiences, list) or len(audiences) > MAX_EXCHANGE_AUDIENCES
            or not all(isinstance(a, str) and 0 < len(a) <= 64 and a.isascii()
                       and a.isprintable() and " " not in a for a in audiences)):
        raise ClientError("exchange audiences must be client ids "
                          f"(at most {MAX_EXCHANGE_AUDIENCES})")


def new_client_id() -> str:
    """A random client_id that never starts with "-" (1 in 64 base64url ids would), so a
    command line (``idp clients show ID``, curl) never mistakes it for an option."""
    while (client_id := random_token(16)).startswith("-"):
        pass
    return client_id


def create(session: Session, secret_key: str, spec: ClientSpec, *,
           actor: str) -> tuple[Client, str | None]:
    """Register a client; returns it and its secret (shown once; None for public clients)."""
    validate(spec)
    method = "none" if spec.public else spec.token_endpoint_auth_method or "client_secret_basic"
    secret = None if spec.public or method == "private_key_jwt" else random_token(32)
    client = Client(
        client_id=new_client_id(), name=spec.name.strip(),
        secret_digest=keyed_digest(secret_key, secret) if secret else None,
        is_public=spec.public, redirect_uris=list(spec.redirect_uris),
        post_logout_redirect_uris=list(spec.post_logout_redirect_uris),
        backchannel_logout_uri=spec.backchannel_logout_uri,
        grant_types=list(dict.fromkeys(spec.grant_types)), scope=" ".join(spec.scope.split()),
        token_endpoint_auth_method=method, jwks=spec.jwks,
        id_token_signed_response_alg=spec.id_token_signed_response_alg,
        subject_type=spec.subject_type, skip_consent=spec.skip_consent,
        allow_idcard=spec.allow_idcard, allowed_account_kinds=list(spec.allowed_account_kinds),
        min_realname_level=spec.min_realname_level, require_mfa=spec.require_mfa,
        service_items=list(spec.service_items),
        exchange_audiences=list(dict.fromkeys(spec.exchange_audiences)))
    session.add(client)
    session.flush()
    audit.record(session, actor=actor, action="oidc:client:create",
                 target=f"client:{client.client_id}", details={"name": client.name})
    return client, secret


def get(session: Session, client_id: str) -> Client | None:
    return session.scalars(select(Client).where(Client.client_id == client_id)).one_or_none()


def list_clients(session: Session) -> list[Client]:
    return list(session.scalars(select(Client).order_by(Client.created_at, Client.id)))


def rotate_secret(session: Session, secret_key: str, client_id: str, *, actor: str) -> str:
    """Replace a confidential client's secret; the old one stops working at once."""
    client = _require(session, client_id)
    if client.is_public or client.token_endpoint_auth_method == "private_key_jwt":
        raise ClientError("this client does not authenticate with a secret")
    secret = random_token(32)
    client.secret_digest = keyed_digest(secret_key, secret)
    client.secret_rotated_at = utcnow()
    audit.record(session, actor=actor, action="oidc:client:rotate-secret",
                 target=f"client:{client_id}")
    return secret


def disable(session: Session, client_id: str, *, actor: str) -> Client:
    """Stop a client: no authorization, no token, no introspection from now on."""
    client = _require(session, client_id)
    client.disabled = True
    audit.record(session, actor=actor, action="oidc:client:disable",
                 target=f"client:{client_id}")
    return client


def _require(session: Session, client_id: str) -> Client:
    client = get(session, client_id)
    if client is None:
        raise ClientError(f"no client {client_id!r}")
    return client


def describe(client: Client) -> dict[str, Any]:
    """Registration metadata for display (never a secret)."""
    return {
        "client_id": client.client_id, "name": client.name, "public": client.is_public,
        "disabled": client.disabled, "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "grant_types": client.grant_types, "scope": client.scope,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "subject_type": client.subject_type, "skip_consent": client.skip_consent,
        "allow_idcard": client.allow_idcard,
        "allowed_account_kinds": client.allowed_account_kinds,
        "min_realname_level": client.min_realname_level, "require_mfa": client.require_mfa,
        "service_items": list(client.service_items or []),
        "exchange_audiences": list(client.exchange_audiences or []),
        "created_at": client.created_at.isoformat() if client.created_at else None,
    }


def load_jwks(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClientError("the JWKS file is not JSON") from exc
    if isinstance(data, dict) and "keys" not in data and "kty" in data:
        data = {"keys": [data]}
    if not isinstance(data, dict):
        raise ClientError("the JWKS file must hold a JSON object")
    return data
