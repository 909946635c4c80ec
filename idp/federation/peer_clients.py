"""Peer nodes as OIDC clients without manual registration (R-62; OIDF §12.1 automatic).

A node whose entity id chains to the trust anchor may use this node's ``/authorize`` and
``/token``: its ``client_id`` is its entity id, its redirect URIs and back-channel logout
URI come from the ``openid_relying_party`` metadata in its chain (after the superiors'
metadata policy), and it authenticates at the token endpoint with ``private_key_jwt`` under
the federation keys its superior vouches for. The resulting `Client` is transient (never
stored) and cached in process no longer than the chain.

A ``client_id`` is attacker-chosen, so it is resolved only when it is an https entity id
(http only with ``IDP_FEDERATION_ALLOW_HTTP``) that this node already knows or that the
anchor or a province lists as a subordinate (`known.is_listed`); anything else is refused
without a network call.

The home node also remembers which peer received an ID token for which person
(`links.record_subscriber`), so status events reach exactly those peers (issue 6 item 4),
and sends a peer back-channel logout like any client (`logout_notices`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from idp.accounts.models import Person
from idp.federation.trust import TrustError
from idp.oidc.models import Client
from idp.platform import Platform

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0
REFUSAL_SECONDS = 30.0
PEER_SID_TTL = 7 * 86400  # outlives any SSO session
_lock = threading.Lock()


def is_peer_id(client_id: object) -> bool:
    """Peer client ids are entity ids (URLs); registered clients' ids never are."""
    return isinstance(client_id, str) and client_id.startswith(("https://", "http://"))


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def build_client(entity_id: str, metadata: dict[str, Any], jwks: dict[str, Any],
                 scope: str) -> Client | None:
    """The pseudo-client for a peer's policy-applied RP metadata; None without any."""
    rp = metadata.get("openid_relying_party")
    if not isinstance(rp, dict):
        return None
    redirect_uris = _strings(rp.get("redirect_uris"))
    if not redirect_uris:
        return None
    backchannel = rp.get("backchannel_logout_uri")
    fed = metadata.get("federation_entity", {})
    name = fed.get("organization_name") if isinstance(fed, dict) else None
    # Every column set explicitly: a transient instance gets no column defaults.
    return Client(
        client_id=entity_id, name=name if isinstance(name, str) else entity_id,
        secret_digest=None, is_public=False, redirect_uris=redirect_uris,
        post_logout_redirect_uris=_strings(rp.get("post_logout_redirect_uris")),
        backchannel_logout_uri=backchannel if isinstance(backchannel, str) else None,
        grant_types=["authorization_code"], scope=scope,
        token_endpoint_auth_method="private_key_jwt", jwks=jwks, jwks_uri=None,
        id_token_signed_response_alg="ES256", subject_type="public",
        # The person chose "registered elsewhere" at the peer: that is the consent, and the
        # peer needs the document to keep one account per document.
        skip_consent=True, allow_idcard=True, disabled=False,
        allowed_account_kinds=["natural"], min_realname_level=1, require_mfa=False)


def peer_client(platform: Platform, entity_id: str) -> Client | None:
    """The peer node ``entity_id`` as a client, or None when it does not chain or is not an RP.

    Cached per process for `CACHE_SECONDS` (never beyond the chain's ``exp``); the trust
    resolver has its own Store cache, so a miss here rarely costs HTTP.
    """
    settings = platform.settings
    if not (settings.federation_level and settings.federation_accept_peers):
        return None
    from idp.federation import known
    from idp.federation.node import federation
    from idp.federation.trust import check_entity_id

    entity_id = entity_id.rstrip("/")
    node = federation(platform)
    if entity_id == node.entity_id:
        return None
    cache: dict[str, tuple[Client | None, float]] = platform.services.setdefault(
        "federation.peer_clients", {})
    now = time.time()
    hit = cache.get(entity_id)
    if hit is not None and hit[1] > now:
        return hit[0]
    try:
        check_entity_id(entity_id, allow_http=node.config.allow_http)
        if not (known.is_known_node(node, entity_id) or known.is_listed(node, entity_id)):
            raise TrustError("not a node the federation lists")
        chain = node.resolver.resolve(entity_id)
    except TrustError as exc:
        log.info("peer client refused entity=%s reason=%s", entity_id, exc)
        # Remembered briefly: an unknown client_id must not make every request a chain
        # resolution (amplification), yet a node just added works half a minute later.
        with _lock:
            cache[entity_id] = (None, now + REFUSAL_SECONDS)
        return None
    client = build_client(entity_id, chain.metadata, chain.jwks,
                          settings.federation_peer_scope)
    if client is not None:
        client.federation_peer = True  # type: ignore[attr-defined]
        client.node_secret_key = settings.secret_key  # type: ignore[attr-defined]
    with _lock:
        if len(cache) > 1000:
            cache.clear()
        cache[entity_id] = (client, min(now + CACHE_SECONDS, chain.exp))
    return client


def record_issue(platform: Platform, session: Any, client: Client, person: Person,
                 subject: str, sid: str | None) -> None:
    """After an ID token for a peer: remember the peer as a subscriber of the person, and
    the subject it knows per session (for its back-channel logout token)."""
    if not getattr(client, "federation_peer", False):
        return
    from idp.federation.links import record_subscriber

    record_subscriber(session, person.id, client.client_id, subject)
    if sid:
        platform.store.set(f"fed:peer-sid:{sid}:{client.client_id}", subject, PEER_SID_TTL)


def logout_notices(platform: Platform, session: Any,
                   ended: list[tuple[str, set[str]]]) -> list[Any]:
    """A ``session_end_hooks`` hook: back-channel logout to peers signed in through a session.

    `idp.oidc.logout` notifies registered clients only (it reads the client table); peers
    are resolved here through their chain.
    """
    from idp.oidc.logout import LogoutNotice, logout_token

    notices = []
    for sid, client_ids in ended:
        for client_id in client_ids:
            if not is_peer_id(client_id):
                continue
            client = peer_client(platform, client_id)
            if client is None or not client.backchannel_logout_uri:
                continue
            sub = platform.store.get(f"fed:peer-sid:{sid}:{client_id}")
            if not isinstance(sub, str):
                continue
            notices.append(LogoutNotice(client_id, client.backchannel_logout_uri,
                                        logout_token(platform, client, sub, sid)))
    return notices


def install(platform: Platform) -> None:
    """Register the logout hook (called once per app, from the federation blueprint)."""
    hooks = platform.services.setdefault("session_end_hooks", [])
    if logout_notices not in hooks:
        hooks.append(logout_notices)
