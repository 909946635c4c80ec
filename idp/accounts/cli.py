"""``idp accounts``: account administration from the command line."""

from __future__ import annotations

import click


@click.group()
def accounts() -> None:
    """Natural-person accounts."""
