"""``idp clients`` and ``idp keys``: department systems and signing keys (issue 2 items 5, 7).

Thin click wrappers around `idp.oidc.clients` and `idp.oidc.keys`; the actor of every
audited change is ``cli``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from idp.oidc import clients as service
from idp.oidc import keys as keyops

ACTOR = "cli"


def _platform():  # type: ignore[no-untyped-def]
    from idp.cli import get_platform
    from idp.oidc import runtime

    platform = get_platform()
    runtime.clients(platform)  # client changes made here reach the servers' caches
    return platform


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group()
def clients() -> None:
    """Department systems (OIDC relying parties)."""


@clients.command("create")
@click.option("--name", required=True, help="Display name shown on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Repeatable.")
@click.option("--public", is_flag=True, help="Public client (no secret; PKCE required).")
@click.option("--grant-type", "grant_types", multiple=True,
              type=click.Choice(service.GRANT_TYPES),
              help="Repeatable; default authorization_code.")
@click.option("--scope", default="openid profile", show_default=True,
              help="Space-separated scopes the client may ask for.")
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True, help="Repeatable.")
@click.option("--backchannel-logout-uri", default=None)
@click.option("--token-auth-method", default=None,
              type=click.Choice(["client_secret_basic", "client_secret_post", "private_key_jwt"]))
@click.option("--jwks-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The client's public keys (JWKS) for private_key_jwt.")
@click.option("--id-token-alg", default="ES256", type=click.Choice(["ES256", "RS256"]))
@click.option("--subject-type", default="public", type=click.Choice(["public", "pairwise"]))
@click.option("--skip-consent", is_flag=True, help="First-party system: never ask consent.")
@click.option("--allow-idcard", is_flag=True, help="May receive full document numbers.")
@click.option("--account-kind", "account_kinds", multiple=True,
              type=click.Choice(service.ACCOUNT_KINDS), help="Repeatable; default natural.")
@click.option("--min-level", default=1, type=click.IntRange(1, 3),
              help="Minimum real-name level.")
@click.option("--require-mfa", is_flag=True, help="Require a second factor.")
@click.option("--service-item", "service_items", multiple=True,
              help="Repeatable: a service item offered, code=名称 or code=名称|English name.")
@click.option("--exchange-audience", "exchange_audiences", multiple=True,
              help="Repeatable: a client id this client may exchange tokens for (RFC 8693).")
@click.option("--json", "as_json", is_flag=True, help="Print client_id and client_secret as JSON.")
def create(name, redirect_uris, public, grant_types, scope, post_logout,  # type: ignore[no-untyped-def]
           backchannel_logout_uri, token_auth_method, jwks_file, id_token_alg, subject_type,
           skip_consent, allow_idcard, account_kinds, min_level, require_mfa, service_items,
           exchange_audiences, as_json):
    """Register a department system; its secret is shown once."""
    try:
        jwks = service.load_jwks(jwks_file.read_text()) if jwks_file else None
        spec = service.ClientSpec(
            name=name, redirect_uris=list(redirect_uris), public=public,
            grant_types=list(grant_types) or ["authorization_code"], scope=scope,
            post_logout_redirect_uris=list(post_logout),
            backchannel_logout_uri=backchannel_logout_uri,
            token_endpoint_auth_method=token_auth_method, jwks=jwks,
            id_token_signed_response_alg=id_token_alg, subject_type=subject_type,
            skip_consent=skip_consent, allow_idcard=allow_idcard,
            allowed_account_kinds=list(account_kinds) or ["natural"],
            min_realname_level=min_level, require_mfa=require_mfa,
            service_items=list(service_items), exchange_audiences=list(exchange_audiences))
        platform = _platform()
        with platform.db.session() as session:
            client, secret = service.create(session, platform.settings.secret_key, spec,
                                            actor=ACTOR)
    except service.ClientError as exc:
        _fail(str(exc))
        return
    if as_json:
        click.echo(json.dumps({"client_id": client.client_id, "client_secret": secret}))
        return
    click.echo(f"client_id:     {client.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}")
        click.echo("(the secret is shown only now; store it safely)")


@clients.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """List registered clients."""
    platform = _platform()
    with platform.db.session() as session:
        found = [service.describe(c) for c in service.list_clients(session)]
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False))
        return
    for c in found:
        state = "disabled" if c["disabled"] else "active"
        click.echo(f"{c['client_id']}  {state:8}  {c['name']}")


@clients.command("show")
@click.argument("client_id")
def show(client_id: str) -> None:
    """Show a client's registration (JSON)."""
    platform = _platform()
    with platform.db.session() as session:
        client = service.get(session, client_id)
        if client is None:
            _fail(f"no client {client_id!r}")
            return
        click.echo(json.dumps(service.describe(client), ensure_ascii=False, indent=2))


@clients.command("edit")
@click.argument("client_id")
@click.option("--service-item", "service_items", multiple=True,
              help="Repeatable; replaces the service items: code=名称 or code=名称|English name.")
@click.option("--clear-service-items", is_flag=True, help="Offer no declared service items.")
@click.option("--exchange-audience", "exchange_audiences", multiple=True,
              help="Repeatable; replaces the clients this one may exchange tokens for.")
@click.option("--clear-exchange-audiences", is_flag=True, help="Allow no token exchange target.")
@click.option("--grant-type", "grant_types", multiple=True,
              type=click.Choice(service.GRANT_TYPES), help="Repeatable; replaces the grants.")
@click.option("--account-kind", "account_kinds", multiple=True,
              type=click.Choice(service.ACCOUNT_KINDS), help="Repeatable; replaces the kinds.")
@click.option("--min-level", type=click.IntRange(1, 3), default=None)
@click.option("--require-mfa/--no-require-mfa", default=None)
def edit(client_id, service_items, clear_service_items,  # type: ignore[no-untyped-def]
         exchange_audiences, clear_exchange_audiences, grant_types, account_kinds, min_level,
         require_mfa):
    """Change a client's access policy; every server applies it from the next request."""
    from admin_ui.client_edit import update

    values: dict[str, object] = {}
    if service_items or clear_service_items:
        values["service_items"] = list(service_items)
    if exchange_audiences or clear_exchange_audiences:
        values["exchange_audiences"] = list(exchange_audiences)
    for name, value in (("grant_types", list(grant_types)),
                        ("allowed_account_kinds", list(account_kinds))):
        if value:
            values[name] = value
    for name, value in (("min_realname_level", min_level), ("require_mfa", require_mfa)):
        if value is not None:
            values[name] = value
    platform = _platform()
    try:
        with platform.db.session() as session:
            _client, changed = update(session, client_id, values, actor=ACTOR)
    except LookupError:
        _fail(f"no client {client_id!r}")
        return
    except service.ClientError as exc:
        _fail(str(exc))
        return
    click.echo(f"changed: {', '.join(changed)}" if changed else "nothing changed")


@clients.command("rotate-secret")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
def rotate_secret(client_id: str, as_json: bool) -> None:
    """Issue a new secret; the old one stops working at once."""
    platform = _platform()
    try:
        with platform.db.session() as session:
            secret = service.rotate_secret(session, platform.settings.secret_key, client_id,
                                           actor=ACTOR)
    except service.ClientError as exc:
        _fail(str(exc))
        return
    if as_json:
        click.echo(json.dumps({"client_id": client_id, "client_secret": secret}))
    else:
        click.echo(f"client_secret: {secret}")


@clients.command("disable")
@click.argument("client_id")
def disable(client_id: str) -> None:
    """Disable a client (authorization, tokens and introspection refused)."""
    platform = _platform()
    try:
        with platform.db.session() as session:
            service.disable(session, client_id, actor=ACTOR)
    except service.ClientError as exc:
        _fail(str(exc))
        return
    click.echo(f"disabled {client_id}")


@click.group()
def keys() -> None:
    """Token signing keys."""


@keys.command("rotate")
@click.option("--alg", default=None, type=click.Choice(list(keyops.SUPPORTED_ALGS)),
              help="Default: the node's signing algorithm.")
def rotate(alg: str | None) -> None:
    """Add a new signing key; old keys stay published until their tokens have expired."""
    platform = _platform()
    settings = platform.settings
    overlap = max(settings.access_token_ttl, settings.id_token_ttl) + 300
    with platform.db.session() as session:
        key = keyops.rotate(session, platform.protector, alg or settings.signing_alg, overlap)
        from idp.audit import service as audit

        audit.record(session, actor=ACTOR, action="oidc:key:rotate", target=f"key:{key.kid}")
    click.echo(f"new signing key {key.kid} ({key.alg}); previous keys published for {overlap} s")


@keys.command("list")
def list_keys() -> None:
    """List signing keys and their state."""
    platform = _platform()
    with platform.db.session() as session:
        for k in keyops.list_keys(session):
            state = "active" if k.active else f"retired, published until {k.publish_until}"
            click.echo(f"{k.kid}  {k.alg}  {state}")


@keys.command("prune")
def prune() -> None:
    """Delete retired keys whose tokens can no longer be in use."""
    platform = _platform()
    with platform.db.session() as session:
        count = keyops.prune(session)
    click.echo(f"deleted {count} retired key(s)")
