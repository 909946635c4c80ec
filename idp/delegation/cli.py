"""``idp delegation``: periodic jobs for delegated authority (R-21)."""

from __future__ import annotations

import click


@click.group()
def delegation() -> None:
    """Delegated authority for legal persons."""


@delegation.command("lapse-expired")
def lapse_expired_command() -> None:
    """Lapse grants a new representative did not keep by the review deadline, and announce
    grants whose validity ended (run from cron).

    Both already stop working on time; this marks un-kept grants and their subtrees lapsed,
    sends the back-channel logout for sign-ins acting on either kind, audits it and tells
    the grantees by SMS. Idempotent.
    """
    from idp.cli import get_platform
    from idp.delegation.expiry import notify_expired
    from idp.delegation.representative import lapse_expired
    from idp.delegation.service import Delegation
    from idp.oidc.acting_logout import bind

    platform = get_platform()
    with platform.db.session() as session:
        ids = [g.id for g in lapse_expired(Delegation.from_platform(bind(session, platform),
                                                                    platform))]
    with platform.db.session() as session:  # a second unit: one failure does not undo both
        expired = [g.id for g in notify_expired(Delegation.from_platform(
            bind(session, platform), platform))]
    click.echo(f"lapsed {len(ids)} grant(s)" + (f": {' '.join(map(str, ids))}" if ids else ""))
    click.echo(f"expired {len(expired)} grant(s)"
               + (f": {' '.join(map(str, expired))}" if expired else ""))
