"""When must the person (re-)authenticate before a service ticket is issued?

Flask-free, over the SSO session, the person and the service's access policy — the same
rules as OIDC clients (`idp.oidc.policy`, issue 2 item 7) plus CAS's ``renew``
(CAS Protocol 3.0 §2.1.1: "single sign-on will be bypassed").
"""

from __future__ import annotations

from idp.accounts.models import Person
from idp.accounts.sessions import SsoSession
from idp.cas.models import CasService
from idp.oidc.policy import LoginNeed, account_kind, has_mfa, session_level

# Reasons a fresh login may not be able to fix; after a login they end the request.
DENIALS = {"inactive": "account_inactive", "level": "realname_level_insufficient",
           "mfa": "second_factor_required", "account_kind": "account_kind_not_allowed"}


def login_need(service: CasService, sso: SsoSession | None, person: Person | None, *,
               renew: bool, login_after: int | None) -> LoginNeed:
    """Everything that stands between this request and a ticket."""
    need = LoginNeed(min_level=max(service.min_realname_level, 1),
                     need_mfa=service.require_mfa)
    if sso is None or person is None or person.security_epoch != sso.epoch:
        need.reasons.append("no_session")
        need.force_login = renew
        return need
    if not person.is_active:
        need.reasons.append("inactive")
    fresh = login_after is not None and sso.auth_time >= login_after
    if renew and not fresh:
        need.reasons.append("renew")
        need.force_login = True
    if session_level(sso) < need.min_level:
        need.reasons.append("level")
    if service.require_mfa and not has_mfa(sso):
        need.reasons.append("mfa")
    # The session's own kind: a certificate sign-in acts for its enterprise (acting.py).
    if account_kind(sso) not in (service.allowed_account_kinds or ["natural"]):
        need.reasons.append("account_kind")
    return need


def refused_before_login(need: LoginNeed, sso: SsoSession) -> bool:
    """A certificate session at a natural-person-only service is refused at once, as in
    OIDC (`idp.oidc.policy.refused_before_login`); ``renew`` still asks for a login."""
    return "account_kind" in need.reasons and bool(sso.acting_for) and not need.force_login


def denial_after_login(need: LoginNeed) -> str | None:
    """After a completed login, the first policy requirement still unmet, if any."""
    for reason in need.reasons:
        if reason in DENIALS:
            return DENIALS[reason]
    return None
