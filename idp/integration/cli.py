"""``idp integration check CLIENT_ID``: the registration self-check (docs/integration §11)."""

from __future__ import annotations

import json
import sys

import click

from idp.integration.selfcheck import check_registration


@click.group()
def integration() -> None:
    """Help department systems integrate with the platform."""


@integration.command("check")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.option("--no-network", is_flag=True, help="Static checks only; do not probe URIs.")
def check(client_id: str, as_json: bool, no_network: bool) -> None:
    """Check a client's redirect, logout and back-channel URIs; non-zero exit on failure."""
    from idp.cli import get_platform
    from idp.oidc import clients as service

    platform = get_platform()
    with platform.db.session() as session:
        client = service.get(session, client_id)
        registration = service.describe(client) if client is not None else None
    if registration is None:
        click.echo(f"error: no client {client_id!r}", err=True)
        sys.exit(2)
    found = check_registration(registration, network=not no_network)
    failed = [c for c in found if not c.ok]
    if as_json:
        click.echo(json.dumps({"client_id": client_id, "ok": not failed,
                               "checks": [c.as_dict() for c in found]}, ensure_ascii=False))
    else:
        for c in found:
            click.echo(f"{'✓' if c.ok else '✗'} {c.rule:28} {c.target}  {c.detail}")
        click.echo(f"{len(found) - len(failed)}/{len(found)} checks passed")
    sys.exit(1 if failed else 0)
