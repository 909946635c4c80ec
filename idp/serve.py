"""``idp serve``, ``idp init`` and ``idp demo``."""

from __future__ import annotations

import click


@click.command()
def serve() -> None:
    """Serve the platform."""


@click.command()
def init() -> None:
    """Prepare a node: migrate the database and create the first signing key."""


@click.command()
def demo() -> None:
    """Set up and serve the demo."""
