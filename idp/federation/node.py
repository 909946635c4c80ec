"""This node in the federation: what it says about itself and its children (OIDF §3, §9).

`FederationNode` holds the node's configuration, federation keys, HTTP session, trust
resolver and directory. It is built once per platform (`federation`) and used by the
blueprint, the CLI and other domains — no Flask here.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from sqlalchemy import select

from idp.federation import config as fedconfig
from idp.federation import entity
from idp.federation.config import FederationConfig
from idp.federation.keys import FederationKeys
from idp.federation.models import Subordinate
from idp.federation.regions import child_level
from idp.federation.trust import Fetcher, TrustError, TrustResolver
from idp.platform import Platform

SERVICE_KEY = "federation"


class FederationNode:
    """One node: national (trust anchor), province (intermediate) or city (leaf)."""

    def __init__(self, platform: Platform, config: FederationConfig,
                 http: requests.Session | None = None) -> None:
        from idp.federation.directory import Directory

        self.platform = platform
        self.config = config
        self.entity_id = config.entity_id
        self.keys = FederationKeys(platform.db, platform.protector)
        self.http = http or requests.Session()
        self.http.headers["User-Agent"] = "idp-federation/1"
        self.resolver = TrustResolver(Fetcher(self.http, config.http_timeout, local=self,
                                              allow_http=config.allow_http),
                                      self.anchor_jwks, platform.store)
        self.directory = Directory(self)

    def anchor_jwks(self) -> dict[str, Any]:
        """The trust anchor's keys: configured out of band, or our own on the anchor."""
        if self.config.is_anchor:
            return self.keys.jwks()
        if self.config.anchor_jwks is None:
            raise TrustError("this node is not federated: no trust anchor configured")
        return self.config.anchor_jwks

    def url(self, path: str) -> str:
        return self.entity_id + path

    def federation_entity_metadata(self) -> dict[str, Any]:
        """``federation_entity`` metadata (OIDF §5.1.1) with our node fields."""
        meta: dict[str, Any] = {
            "node_level": self.config.level, "region": self.config.region,
            "mode": self.config.mode,
            "directory_register_endpoint": self.url(entity.REGISTER_PATH),
            "directory_lookup_endpoint": self.url(entity.LOOKUP_PATH),
            # RFC 8935 push endpoint for Security Event Tokens (set_receiver.py).
            "set_endpoint": self.url(entity.SET_PATH),
        }
        if child_level(self.config.level):
            meta["federation_fetch_endpoint"] = self.url(entity.FETCH_PATH)
            meta["federation_list_endpoint"] = self.url(entity.LIST_PATH)
        return meta

    def relying_party_metadata(self) -> dict[str, Any]:
        """``openid_relying_party`` metadata: this node as a client of its peers (OIDF §5.1.2).

        Peers accept it without manual registration (idp/federation/peer_clients.py); the
        back-channel logout URI lets a home node end our sessions of its person.
        """
        from idp.federation import rp

        return {"client_name": self.entity_id, "application_type": "web",
                "redirect_uris": [self.url(rp.CALLBACK_PATH)],
                "backchannel_logout_uri": self.url(rp.BACKCHANNEL_PATH),
                "backchannel_logout_session_required": True,
                "grant_types": ["authorization_code"], "response_types": ["code"],
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "ES256",
                "client_registration_types": ["automatic"]}

    def entity_configuration(self) -> str:
        """This node's signed entity configuration (OIDF §3.2, §9)."""
        from idp.oidc.discovery import provider_metadata

        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.entity_id, "sub": self.entity_id, "iat": now,
            "exp": now + self.config.statement_ttl, "jwks": self.keys.jwks(),
            "metadata": {"federation_entity": self.federation_entity_metadata(),
                         "openid_provider": provider_metadata(self.platform.settings.issuer),
                         "openid_relying_party": self.relying_party_metadata()},
        }
        if self.config.parent:
            claims["authority_hints"] = [self.config.parent]
        return entity.sign_statement(self.keys.signer(), claims)

    def subordinate_statement(self, sub: str) -> str | None:
        """A signed statement about an active child, or None (OIDF §3.1.1, §8.1)."""
        with self.platform.db.session() as session:
            child = session.scalars(select(Subordinate).where(
                Subordinate.entity_id == sub, Subordinate.active.is_(True))).one_or_none()
            if child is None:
                return None
            claims = self._statement_claims(child)
        return entity.sign_statement(self.keys.signer(), claims)

    def _statement_claims(self, child: Subordinate) -> dict[str, Any]:
        now = int(time.time())
        below = 0 if child.node_level == "city" else 1  # provinces may have cities below
        levels = ["city"] if child.node_level == "city" else ["province", "city"]
        return {
            "iss": self.entity_id, "sub": child.entity_id, "iat": now,
            "exp": now + self.config.statement_ttl, "jwks": dict(child.jwks),
            # Region delegation: the child and everything under it stay inside its region.
            "constraints": {"max_path_length": below, "allowed_regions": [child.region]},
            "metadata_policy": {"federation_entity": {"node_level": {"one_of": levels},
                                                      "region": {"essential": True}}},
        }

    def subordinate_ids(self) -> list[str]:
        with self.platform.db.session() as session:
            return list(session.scalars(select(Subordinate.entity_id).where(
                Subordinate.active.is_(True)).order_by(Subordinate.entity_id)))

    def is_child(self, entity_id: str) -> bool:
        with self.platform.db.session() as session:
            return session.scalars(select(Subordinate.id).where(
                Subordinate.entity_id == entity_id, Subordinate.active.is_(True))
            ).first() is not None


def federation(platform: Platform) -> FederationNode:
    """This platform's federation node, built on first use from its settings."""
    node = platform.services.get(SERVICE_KEY)
    if node is None:
        node = FederationNode(platform, fedconfig.from_settings(platform.settings))
        platform.services[SERVICE_KEY] = node
    return node  # type: ignore[return-value]
