"""``idp delegation``: periodic jobs for delegated authority (R-21)."""

from __future__ import annotations

import click


@click.group()
def delegation() -> None:
    """Delegated authority for legal persons."""


@delegation.command("lapse-expired")
def lapse_expired_command() -> None:
    """Lapse grants a new representative did not keep by the review deadline (run from cron).

    They already stop working at the deadline; this marks them and their subtrees lapsed,
    audits it and tells the grantees by SMS. Idempotent.
    """
    from idp.cli import get_platform
    from idp.delegation.representative import lapse_expired
    from idp.delegation.service import Delegation

    platform = get_platform()
    with platform.db.session() as session:
        ended = lapse_expired(Delegation.from_platform(session, platform))
        ids = [g.id for g in ended]
    click.echo(f"lapsed {len(ids)} grant(s)" + (f": {' '.join(map(str, ids))}" if ids else ""))
