"""``idp cas-services``: department systems that speak CAS (issue 7 item 4).

Thin click wrappers around `idp.cas.services`; the actor of every audited change is ``cli``.
"""

from __future__ import annotations

import json
import sys

import click

from idp.cas import services as registry

ACTOR = "cli"


def _platform():  # type: ignore[no-untyped-def]
    from idp.cli import get_platform

    return get_platform()


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group("cas-services")
def cas_services() -> None:
    """Department systems connected through the CAS protocol."""


@cas_services.command("create")
@click.option("--name", required=True, help="Display name shown on the login page.")
@click.option("--service", "pattern", required=True, help="Service URL (or prefix).")
@click.option("--match", type=click.Choice(registry.MATCH_KINDS), default="exact",
              show_default=True, help="Exact URL, or a URL prefix ending in '/'.")
@click.option("--scope", default="profile", show_default=True,
              help=f"Attribute scopes, space separated: {' '.join(registry.CAS_SCOPES)}.")
@click.option("--slo-url", default=None, help="Where single logout requests are POSTed "
              "(default: the service URL that received the ticket).")
@click.option("--min-level", type=click.IntRange(1, 3), default=1, show_default=True)
@click.option("--require-mfa", is_flag=True)
@click.option("--allow-idcard", is_flag=True, help="May receive the full document number.")
@click.option("--account-kind", "kinds", multiple=True, type=click.Choice(registry.ACCOUNT_KINDS))
def create(name: str, pattern: str, match: str, scope: str, slo_url: str | None,
           min_level: int, require_mfa: bool, allow_idcard: bool, kinds: tuple[str, ...]) -> None:
    """Register a CAS service."""
    spec = registry.ServiceSpec(name=name, pattern=pattern, match=match, scope=scope,
                                slo_url=slo_url, min_realname_level=min_level,
                                require_mfa=require_mfa, allow_idcard=allow_idcard,
                                allowed_account_kinds=list(kinds or ["natural"]))
    platform = _platform()
    try:
        with platform.db.session() as session:
            service = registry.create(session, spec, actor=ACTOR)
            click.echo(json.dumps(_row(service), ensure_ascii=False))
    except registry.ServiceError as exc:
        _fail(str(exc))


@cas_services.command("list")
def list_services() -> None:
    """List registered CAS services, one JSON object a line."""
    with _platform().db.session() as session:
        for service in registry.all_services(session):
            click.echo(json.dumps(_row(service), ensure_ascii=False))


@cas_services.command("disable")
@click.argument("service_id", type=int)
def disable(service_id: int) -> None:
    """Disable a service: no new tickets; outstanding tickets fail validation."""
    try:
        with _platform().db.session() as session:
            registry.disable(session, service_id, actor=ACTOR)
    except registry.ServiceError as exc:
        _fail(str(exc))
    click.echo(f"disabled CAS service {service_id}")


def _row(service) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"id": service.id, "name": service.name, "match": service.match,
            "service": service.pattern, "scope": service.scope, "slo_url": service.slo_url,
            "min_level": service.min_realname_level, "require_mfa": service.require_mfa,
            "disabled": service.disabled}
