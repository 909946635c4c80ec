"""``idp clients`` and ``idp keys``: department systems and signing keys."""

from __future__ import annotations

import click


@click.group()
def clients() -> None:
    """Department systems (OIDC relying parties)."""


@click.group()
def keys() -> None:
    """Token signing keys."""
