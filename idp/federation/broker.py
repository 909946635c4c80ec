"""Brokered logins at the visiting node: link, cap, audit, end on the home's word (R-62).

Between `rp.finish` (a verified home identity) and the local SSO session: the identity is
linked to a local federated person (links.py) whose level is the home level capped by this
node's trust policy (``IDP_FEDERATION_MAX_LEVEL_FROM_PEERS``). Every brokered login and
refusal is audited (``federation:login``, ``federation:login:refused``). A back-channel
logout from the home node ends the person's sessions here and, in turn, at this node's own
department systems (`end_linked_sessions`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp.accounts.models import Person
from idp.audit import service as audit
from idp.federation import links
from idp.federation.rp import BrokerError, HomeIdentity
from idp.oidc.logout import LogoutNotice, end_person_sessions
from idp.platform import Platform


def capped_level(platform: Platform, home_level: int) -> int:
    """The home node's level, never above what this node trusts peers to vouch for."""
    return max(1, min(home_level, platform.settings.federation_max_level_from_peers))


def link(platform: Platform, session: Session, identity: HomeIdentity, home: str,
         address: str) -> tuple[Person, int]:
    """Link (or refresh) the local person; refuse one banned or closed here."""
    level = capped_level(platform, identity.level)
    try:
        person = links.link_account(session, home_issuer=identity.issuer,
                                    home_sub=identity.sub, home_entity_id=home, level=level,
                                    claims=identity.claims, protector=platform.protector,
                                    home_level=identity.level)
    except links.LinkConflict as exc:
        raise BrokerError("conflict", str(exc)) from exc
    if not person.is_active:
        raise BrokerError("unavailable", f"account {person.status} here")
    audit.record(session, actor=f"node:{home}", action="federation:login",
                 target=f"person:{person.id}", address=address,
                 details={"home": home, "home_level": identity.level, "level": level,
                          "amr": identity.amr})
    return person, level


def refused(platform: Platform, error: BrokerError, home: str, address: str) -> None:
    """Audit a refused brokered login in its own transaction (nothing else was written)."""
    with platform.db.session() as session:
        audit.record(session, actor=f"node:{home}" if home else "anonymous",
                     action="federation:login:refused", outcome="failure", address=address,
                     details={"reason": error.reason, "detail": error.detail[:200]})


def end_linked_sessions(platform: Platform, session: Session, issuer: str, sub: str,
                        address: str) -> list[LogoutNotice]:
    """The home node logged the person out: end their sessions here (notices to send).
    Audited after the grants are revoked (`end_person_sessions`: the lock order)."""
    person = links.find_linked(session, issuer, sub)
    notices = [] if person is None else end_person_sessions(
        platform, session, person, "home_logout", actor=f"node:{issuer}")
    audit.record(session, actor=f"node:{issuer}", action="federation:logout",
                 target=f"person:{person.id}" if person else "", address=address,
                 outcome="success" if person else "not_found")
    return notices
