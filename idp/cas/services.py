"""CAS service registration and matching: plain functions shared by the CLI, tests and the
console (issue 7 item 4). Every change is audited with the caller's ``actor``.

A service URL from a browser is matched against registered patterns only — exact or
prefix, never a regular expression — so ``/cas/login`` can never become an open redirect
(CAS Protocol 3.0 §2.1.1: "CAS SHOULD NOT redirect to services that are not authorized").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit import service as audit
from idp.cas.models import CasService
from idp.oidc.claims import SUPPORTED_SCOPES

MATCH_KINDS = ("exact", "prefix")
ACCOUNT_KINDS = ("natural", "legal_acting")
CAS_SCOPES = tuple(s for s in SUPPORTED_SCOPES if s not in ("openid", "offline_access"))
MAX_SERVICE_URL = 2048


class ServiceError(ValueError):
    """A registration that cannot be accepted; the message says why."""


@dataclass
class ServiceSpec:
    name: str
    pattern: str
    match: str = "exact"
    scope: str = "profile"
    slo_url: str | None = None
    allow_logout_redirect: bool = True
    allowed_account_kinds: list[str] = field(default_factory=lambda: ["natural"])
    min_realname_level: int = 1
    require_mfa: bool = False
    allow_idcard: bool = False


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host, no fragment, no credentials, no control chars."""
    if not url or len(url) > MAX_SERVICE_URL or not url.isprintable() or " " in url:
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.fragment
            and "@" not in parts.netloc and "\\" not in url)


def validate(spec: ServiceSpec) -> None:
    """Refuse registrations that would match too much or cannot be honoured."""
    if not spec.name.strip() or len(spec.name) > 200:
        raise ServiceError("name is required (at most 200 characters)")
    if spec.match not in MATCH_KINDS:
        raise ServiceError(f"match must be one of {MATCH_KINDS}")
    if not is_web_url(spec.pattern) or len(spec.pattern) > 500:
        raise ServiceError("the service pattern must be an absolute http(s) URL")
    if spec.match == "prefix" and urlsplit(spec.pattern).path in ("", "/") \
            and not spec.pattern.endswith("/"):
        # "https://a.gov.cn" as a prefix would also match "https://a.gov.cn.evil.com/".
        raise ServiceError("a prefix pattern must end with '/' after the host")
    if spec.slo_url and (not is_web_url(spec.slo_url) or len(spec.slo_url) > 500):
        raise ServiceError("the single logout URL must be an absolute http(s) URL")
    unknown = set(spec.scope.split()) - set(CAS_SCOPES)
    if unknown:
        raise ServiceError(f"unknown scopes {sorted(unknown)}; choose from {CAS_SCOPES}")
    if not spec.allowed_account_kinds or not set(spec.allowed_account_kinds) <= set(ACCOUNT_KINDS):
        raise ServiceError(f"account kinds must be among {ACCOUNT_KINDS}")
    if spec.min_realname_level not in (1, 2, 3):
        raise ServiceError("minimum real-name level must be 1, 2 or 3")


def create(session: Session, spec: ServiceSpec, *, actor: str) -> CasService:
    """Register a CAS service."""
    validate(spec)
    service = CasService(
        name=spec.name.strip(), pattern=spec.pattern, match=spec.match,
        scope=" ".join(dict.fromkeys(spec.scope.split())), slo_url=spec.slo_url or None,
        allow_logout_redirect=spec.allow_logout_redirect,
        allowed_account_kinds=list(spec.allowed_account_kinds),
        min_realname_level=spec.min_realname_level, require_mfa=spec.require_mfa,
        allow_idcard=spec.allow_idcard)
    session.add(service)
    session.flush()
    audit.record(session, actor=actor, action="cas:service:create", target=service.client_key,
                 details={"name": service.name, "match": service.match,
                          "pattern": service.pattern, "scope": service.scope})
    return service


def all_services(session: Session) -> list[CasService]:
    return list(session.scalars(select(CasService).order_by(CasService.id)).all())


def get(session: Session, service_id: int) -> CasService | None:
    return session.get(CasService, service_id)


def disable(session: Session, service_id: int, *, actor: str) -> CasService:
    """Stop a service: no new tickets, and outstanding tickets fail validation."""
    service = session.get(CasService, service_id)
    if service is None:
        raise ServiceError(f"no CAS service with id {service_id}")
    service.disabled = True
    audit.record(session, actor=actor, action="cas:service:disable", target=service.client_key)
    return service


def matches(service: CasService, url: str) -> bool:
    if service.match == "exact":
        return url == service.pattern
    return url.startswith(service.pattern)


def find(session: Session, url: str) -> CasService | None:
    """The enabled service a browser-supplied URL belongs to; the longest pattern wins."""
    if not is_web_url(url):
        return None
    found = [s for s in session.scalars(select(CasService).where(CasService.disabled.is_(False)))
             if matches(s, url)]
    return max(found, key=lambda s: (s.match == "exact", len(s.pattern)), default=None)
