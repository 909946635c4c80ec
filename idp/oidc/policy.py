"""When must the person (re-)authenticate before a code is issued? (DESIGN.md steps 2-4)

Flask-free decisions over the SSO session, the person and the client's access policy:
OIDC Core §3.1.2.1 ``prompt``, ``max_age``, ``acr_values``; issue 2 item 7 client policy
(allowed account kinds, minimum real-name level, required second factor).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from authlib.oauth2.rfc6749 import InvalidRequestError

from idp.accounts.models import Person
from idp.accounts.sessions import SsoSession
from idp.oidc.models import Client
from idp.web.sso import level_of_acr

# A session shows a second factor when it used two distinct methods (RFC 8176 "mfa").
MFA_MIN_METHODS = 2


@dataclass
class LoginNeed:
    """Why a login is needed, and what it must achieve."""

    reasons: list[str] = field(default_factory=list)
    min_level: int = 1
    need_mfa: bool = False
    force_login: bool = False

    def __bool__(self) -> bool:
        return bool(self.reasons)

    @property
    def policy_unmet(self) -> bool:
        """Requirements a fresh login may not be able to satisfy (level, factor, kind)."""
        return any(r in ("level", "mfa", "account_kind", "inactive") for r in self.reasons)


def prompts(value: str | None) -> set[str]:
    found = set((value or "").split())
    if "none" in found and len(found) > 1:
        raise InvalidRequestError("'prompt=none' cannot be combined with other values.")
    return found


def parse_max_age(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise InvalidRequestError("'max_age' must be a non-negative integer.")
    return int(value)


def requested_level(acr_values: str | None) -> int:
    """The lowest real-name level among ``acr_values`` (any listed one is acceptable)."""
    levels = [level_of_acr(v) for v in (acr_values or "").split()]
    levels = [lvl for lvl in levels if lvl > 0]
    return min(levels) if levels else 0


def session_level(sso: SsoSession) -> int:
    return level_of_acr(sso.acr)


def has_mfa(sso: SsoSession) -> bool:
    return len(set(sso.amr)) >= MFA_MIN_METHODS or "mfa" in sso.amr


def account_kind(sso: SsoSession) -> str:
    """A session's own kind: an enterprise certificate sign-in (R-23) acts for the
    enterprise it proved; every other sign-in is a natural person's."""
    return "legal_acting" if sso.acting_for else "natural"


# R-23, the safe reading: the certificate proves the enterprise, so a certificate session
# is never silently used for the representative's private errands. RFC 6749 §4.1.2.1 allows
# only %x20-21 / %x23-5B / %x5D-7E in a description: plain ASCII, no quotes.
ENTERPRISE_SIGN_IN = ("account_kind_not_allowed: this is an enterprise certificate sign-in "
                      "(acting for the enterprise); this client serves natural persons only")


@dataclass
class AuthorizationContext:
    sso: SsoSession | None
    person: Person | None
    client: Client
    prompt: set[str]
    max_age: int | None
    acr_values: str | None
    hint_mismatch: bool  # id_token_hint names another subject than the session's
    login_after: int | None  # a resumed login must be at least this recent
    now: int


def login_need(ctx: AuthorizationContext) -> LoginNeed:
    """Everything that stands between this request and a code."""
    need = LoginNeed(min_level=max(ctx.client.min_realname_level,
                                   requested_level(ctx.acr_values), 1),
                     need_mfa=ctx.client.require_mfa)
    sso, person = ctx.sso, ctx.person
    if sso is None or person is None or person.security_epoch != sso.epoch:
        need.reasons.append("no_session")
        return need
    if not person.is_active:
        need.reasons.append("inactive")
    fresh = ctx.login_after is not None and sso.auth_time >= ctx.login_after
    if "login" in ctx.prompt and not fresh:
        need.reasons.append("prompt_login")
    if ctx.max_age is not None and ctx.now - sso.auth_time > ctx.max_age and not fresh:
        need.reasons.append("max_age")
    if ctx.hint_mismatch:
        need.reasons.append("id_token_hint")
    if session_level(sso) < need.min_level:
        need.reasons.append("level")
    if ctx.client.require_mfa and not has_mfa(sso):
        need.reasons.append("mfa")
    kinds = ctx.client.allowed_account_kinds or ["natural"]
    # Clients serving "legal_acting" get the per-authorization chooser (web/acting.py)
    # instead: no login can change whom the person acts for.
    if account_kind(sso) not in kinds and "legal_acting" not in kinds:
        need.reasons.append("account_kind")
    need.force_login = any(r in ("prompt_login", "max_age", "id_token_hint")
                           for r in need.reasons)
    return need


def unmet_after_login(need: LoginNeed, client: Client, acr_values: str | None,
                      sso: SsoSession | None) -> str | None:
    """After a completed login, a requirement still unmet that ends the request, if any.

    ``acr_values`` is a voluntary request (OIDC Core §3.1.2.1): when the person cannot reach
    it, the code is issued and the ``acr`` claim tells the truth. The client's own policy
    is mandatory: its failure is ``access_denied``.
    """
    if sso is None:
        return None
    if "inactive" in need.reasons:
        return "account_inactive"
    if "level" in need.reasons and session_level(sso) < client.min_realname_level:
        return "realname_level_insufficient"
    if "mfa" in need.reasons:
        return "second_factor_required"
    if "account_kind" in need.reasons:
        return ENTERPRISE_SIGN_IN if sso.acting_for else "account_kind_not_allowed"
    return None


def refused_before_login(need: LoginNeed) -> str | None:
    """A certificate session at a natural-person-only client is refused at once rather than
    sent to a login page that could only repeat it; ``prompt=login`` or ``max_age`` still
    lead to a fresh login, where the person may sign in as themself."""
    if "account_kind" in need.reasons and not need.force_login:
        return ENTERPRISE_SIGN_IN
    return None
