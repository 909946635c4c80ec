"""The ``idp`` command: thin click wrappers around plain functions (STYLE.md, Flask)."""

from __future__ import annotations

import functools
import sys

import click

from idp.platform import Platform
from idp.settings import Settings, SettingsError


@functools.cache
def get_platform() -> Platform:
    """The node's ports, built from ``IDP_*`` variables for this command."""
    try:
        platform = Platform.build(Settings.from_env())
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    from idp.federation.outbox import install

    install(platform)  # accounts created or banned here queue federation work (issue 6)
    return platform


@click.group()
def main() -> None:
    """Unified identity authentication platform (统一身份认证平台)."""


@main.command()
def migrate() -> None:
    """Upgrade the database schema to the newest migration."""
    from idp.migrate import upgrade

    upgrade(get_platform().settings.database_url)
    click.echo("database at head")


def _register_commands() -> None:
    from idp.accounts.cli import accounts
    from idp.audit.cli import audit
    from idp.cas.cli import cas_services
    from idp.delegation.cli import delegation
    from idp.federation.cli import federation
    from idp.integration.cli import integration
    from idp.oidc.cli import clients, keys
    from idp.serve import demo, init, serve

    for command in (accounts, audit, cas_services, clients, delegation, federation, integration,
                    keys, serve, demo, init):
        main.add_command(command)


_register_commands()
