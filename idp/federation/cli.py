"""``idp federation``: set a node up, vouch for children, show the node (issue 6 item 1).

Thin click wrappers around `idp.federation.config`, `keys` and `subordinates`. Settings
live in ``IDP_FEDERATION_*`` variables; ``init`` checks them, creates the federation key
and prints the lines to put in the node's environment and the JWKS to hand to the parent.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click
import requests

from idp.federation import config as fedconfig
from idp.federation import entity, subordinates
from idp.federation.entity import StatementError
from idp.federation.node import FederationNode
from idp.federation.node import federation as node_of
from idp.federation.trust import TrustError
from idp.settings import SettingsError

ACTOR = "cli"


def _node() -> FederationNode:
    from idp.cli import get_platform

    return node_of(get_platform())


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group("federation")
def federation_group() -> None:
    """National / province / city federation (国家、省、市三级互认)."""


federation = federation_group


@federation_group.command("init")
@click.option("--level", required=True, type=click.Choice(fedconfig.LEVELS))
@click.option("--region", required=True, help="GB/T 2260 division code; 000000 for national.")
@click.option("--parent", default="", help="The parent node's entity id (URL).")
@click.option("--anchor-jwks", default="", help="File with the national node's public JWKS.")
@click.option("--mode", default="separate", type=click.Choice(fedconfig.MODES))
def init_node(level: str, region: str, parent: str, anchor_jwks: str, mode: str) -> None:
    """Check the node's federation settings, create its key, print what to configure."""
    from idp.cli import get_platform

    platform = get_platform()
    overrides = dict(federation_level=level, federation_region=region,
                     federation_parent=parent, federation_anchor_jwks=anchor_jwks,
                     federation_mode=mode)
    try:
        cfg = fedconfig.from_settings(dataclasses.replace(platform.settings, **overrides))
    except SettingsError as exc:
        _fail(str(exc))
    node = FederationNode(platform, cfg)
    jwks = node.keys.jwks()
    click.echo("# add to this node's environment:")
    for name, value in overrides.items():
        if value:
            click.echo(f"IDP_{name.upper()}={value}")
    click.echo(f"# entity id: {cfg.entity_id}")
    click.echo("# federation public keys (give to the parent for `add-child`"
               + ("; distribute as the trust anchor keys" if cfg.is_anchor else "") + "):")
    click.echo(json.dumps(jwks, indent=2))
    for thumb in subordinates.thumbprints(jwks):
        click.echo(f"# key thumbprint (RFC 7638): {thumb}")


def _read_jwks(source: str, timeout: int) -> dict[str, Any]:
    """A JWKS from a file, or from a URL serving a JWKS or an entity configuration."""
    if source.startswith(("http://", "https://")):
        try:
            resp = requests.get(source, timeout=timeout, allow_redirects=False)
            resp.raise_for_status()
        except requests.RequestException as exc:
            _fail(f"cannot fetch {source}: {type(exc).__name__}")
        text = resp.text.strip()
        if not text.startswith("{"):
            try:  # an entity configuration: take its self-signed keys (check thumbprints!)
                ec = entity.parse(text)
                entity.verify(ec, ec.jwks)
            except StatementError as exc:
                _fail(f"{source} is neither a JWKS nor an entity configuration: {exc}")
            return ec.jwks
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot read {source}: {exc.strerror}")
    try:
        value = json.loads(text)
    except ValueError:
        _fail(f"{source} is not JSON")
    return value  # type: ignore[no-any-return]


@federation_group.command("add-child")
@click.argument("entity_id")
@click.option("--region", required=True, help="The region delegated to the child.")
@click.option("--jwks", "jwks_source", required=True, help="File or URL of the child's keys.")
def add_child(entity_id: str, region: str, jwks_source: str) -> None:
    """Vouch for a child node (its subordinate statement is served from now on)."""
    node = _node()
    jwks = _read_jwks(jwks_source, node.config.http_timeout)
    try:
        with node.platform.db.session() as session:
            child = subordinates.add_child(
                session, own_level=node.config.level, own_region=node.config.region,
                entity_id=entity_id, region=region, jwks=jwks, actor=ACTOR,
                allow_http=node.config.allow_http)
    except subordinates.ChildError as exc:
        _fail(str(exc))
    node.resolver.forget(entity_id)
    click.echo(f"child {child.entity_id}: {child.node_level} {child.region}")
    for thumb in child.thumbprints:
        click.echo(f"  key thumbprint: {thumb}  (compare with the child's operator)")


@federation_group.command("remove-child")
@click.argument("entity_id")
def remove_child(entity_id: str) -> None:
    """Stop vouching for a child node."""
    node = _node()
    with node.platform.db.session() as session:
        removed = subordinates.remove_child(session, entity_id, ACTOR)
    node.resolver.forget(entity_id)
    if not removed:
        _fail(f"{entity_id} is not an active child")
    click.echo(f"child {entity_id} removed")


@federation_group.command("show")
def show() -> None:
    """This node's place in the federation, keys, children and trust chain."""
    node = _node()
    cfg = node.config
    if not cfg.enabled:
        _fail("this node is not federated (IDP_FEDERATION_LEVEL is empty)")
    click.echo(f"entity id: {cfg.entity_id}\nlevel: {cfg.level}\nregion: {cfg.region}\n"
               f"mode: {cfg.mode}\nparent: {cfg.parent or '-'}\n"
               f"directory key: {'set' if cfg.directory_key else 'NOT SET'}")
    for thumb in subordinates.thumbprints(node.keys.jwks()):
        click.echo(f"key thumbprint: {thumb}")
    with node.platform.db.session() as session:
        for child in subordinates.list_children(session):
            state = "" if child.active else " (removed)"
            click.echo(f"child: {child.entity_id} {child.node_level} {child.region}{state}")
    try:
        chain = node.resolver.resolve(cfg.entity_id)
        click.echo("trust chain: " + " → ".join(chain.path))
    except TrustError as exc:
        click.echo(f"trust chain: NOT VALID ({exc})")


@federation_group.command("deliver")
@click.option("--now", "all_now", is_flag=True, help="Retry every pending item now, ignoring "
              "back-off (after a peer node came back).")
def deliver(all_now: bool) -> None:
    """Deliver queued events and registrations to other nodes (for cron; 投递待发事件)."""
    from idp.federation import outbox

    node = _node()
    if not node.config.enabled:
        _fail("this node is not federated (IDP_FEDERATION_LEVEL is empty)")
    if all_now:
        outbox.retry_now(node)
    total = outbox.Report()
    while True:
        report = outbox.deliver_due(node)
        total.delivered += report.delivered
        total.retried += report.retried
        total.failed += report.failed
        if report.delivered + report.retried + report.failed < outbox.BATCH:
            break
    click.echo(f"delivered {total.delivered}, to retry {total.retried}, "
               f"given up {total.failed}, pending {outbox.pending_count(node)}")
