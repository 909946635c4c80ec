"""``idp audit``: check the hash chain of the operation log (R-53)."""

from __future__ import annotations

import sys

import click


@click.group()
def audit() -> None:
    """The operation log."""


@audit.command()
def verify() -> None:
    """Check every record's hash and link; name the first broken record."""
    from idp.audit.service import verify_chain
    from idp.cli import get_platform

    with get_platform().db.session() as session:
        result = verify_chain(session)
    if result.ok:
        click.echo(f"audit chain intact: {result.checked} records")
        return
    click.echo(f"audit chain BROKEN at record {result.first_broken}: {result.reason} "
               f"({result.checked} records verified before it)", err=True)
    sys.exit(1)
