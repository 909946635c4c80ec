"""An in-process federation: several nodes, each its own Flask app, SQLite file and store.

`WsgiAdapter` lets a node's ``requests`` session reach the other nodes' apps by host name,
so trust.py and the directory run their real HTTP code paths without sockets.
"""

from __future__ import annotations

import atexit
import base64
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from requests.adapters import BaseAdapter
from werkzeug.test import Client

from idp import create_app
from idp.federation import subordinates
from idp.federation.node import FederationNode, federation
from idp.migrate import upgrade
from idp.platform import Platform
from idp.settings import Settings
from idp.store import MemoryStore

DIRECTORY_KEY = base64.b64encode(b"federation-directory-key-32bytes").decode()
FAST = {"argon2_memory_kib": 1024, "argon2_time_cost": 1}


@cache
def _migrated_sqlite() -> Path:
    """One SQLite file migrated to head per test process, without keys (each node makes its
    own): migrating costs ~1.3 s per node on SQLite, a copy a millisecond."""
    folder = Path(tempfile.mkdtemp(prefix="idp-fed-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "head.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


def prepare_database(url: str) -> None:
    """Bring a node's new database to head: a copy of the migrated file for SQLite."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        shutil.copyfile(_migrated_sqlite(), url.removeprefix("sqlite:///"))
    else:
        upgrade(url)


class WsgiAdapter(BaseAdapter):
    """A requests transport that calls a WSGI app in process."""

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.client = Client(app)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None,  # type: ignore[no-untyped-def,override]
             proxies=None):
        parts = urlsplit(request.url)
        body = request.body.encode() if isinstance(request.body, str) else request.body
        wresp = self.client.open(parts.path, method=request.method, query_string=parts.query,
                                 headers=dict(request.headers), data=body or b"",
                                 base_url=f"{parts.scheme}://{parts.netloc}")
        resp = requests.Response()
        resp.status_code = wresp.status_code
        resp.headers = requests.structures.CaseInsensitiveDict(wresp.headers)
        resp._content = wresp.get_data()
        resp.url = request.url
        resp.request = request
        resp.encoding = "utf-8"
        wresp.close()
        return resp

    def close(self) -> None:
        pass


@dataclass
class Node:
    name: str
    app: Flask
    entity_id: str

    @property
    def platform(self) -> Platform:
        return self.app.extensions["idp"]  # type: ignore[no-any-return]

    @property
    def fed(self) -> FederationNode:
        return federation(self.platform)

    def client(self):  # type: ignore[no-untyped-def]
        return self.app.test_client()


@dataclass
class Federation:
    root: Path
    nodes: dict[str, Node] = field(default_factory=dict)
    anchor_jwks: str = ""

    def add(self, name: str, level: str, region: str, parent: str = "",
            **overrides: Any) -> Node:
        entity_id = f"http://{name}.test"
        values: dict[str, Any] = dict(
            testing=True, secure_cookies=False, issuer=entity_id,
            database_url=f"sqlite:///{self.root / (name + '.sqlite3')}",
            federation_level=level, federation_region=region,
            federation_parent=f"http://{parent}.test" if parent else "",
            federation_anchor_jwks=self.anchor_jwks if level != "national" else "",
            federation_directory_key=DIRECTORY_KEY, federation_allow_http=True, **FAST)
        settings = Settings(**{**values, **overrides})
        prepare_database(settings.database_url)
        app = create_app(settings, store=MemoryStore())
        node = Node(name, app, entity_id)
        self.nodes[name] = node
        if level == "national" and not self.anchor_jwks:
            self.anchor_jwks = json.dumps(node.fed.keys.jwks())
        self.connect()
        return node

    def connect(self) -> None:
        """Every node can reach every other node by its host name."""
        for node in self.nodes.values():
            for other in self.nodes.values():
                node.fed.http.mount(other.entity_id + "/", WsgiAdapter(other.app))

    def vouch(self, parent: str, child: str, region: str | None = None) -> None:
        """``parent`` adds ``child`` with the child's current keys (idp federation add-child)."""
        p, c = self.nodes[parent], self.nodes[child]
        with p.platform.db.session() as session:
            subordinates.add_child(session, own_level=p.fed.config.level,
                                   own_region=p.fed.config.region, entity_id=c.entity_id,
                                   region=region or c.fed.config.region,
                                   jwks=c.fed.keys.jwks(), actor="test", allow_http=True)

    def close(self) -> None:
        for node in self.nodes.values():
            node.platform.db.dispose()


class Browser:
    """A person's browser across in-process nodes: one cookie jar (test client) per host.

    ``follow`` walks redirects from node to node — the way a brokered login bounces between
    the visiting node and the home node — and stops at a page, or at a redirect to a host
    that is not a node (a department system's callback).
    """

    def __init__(self, fed: Federation) -> None:
        self.fed = fed
        self._clients: dict[str, Any] = {}

    def node_of(self, url: str) -> Node | None:
        netloc = urlsplit(url).netloc
        return next((n for n in self.fed.nodes.values()
                     if urlsplit(n.entity_id).netloc == netloc), None)

    def open(self, method: str, url: str, data: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        node = self.node_of(url)
        assert node is not None, f"not a node: {url}"
        client = self._clients.setdefault(node.name, node.client())
        parts = urlsplit(url)
        return client.open(parts.path, method=method, query_string=parts.query, data=data,
                           base_url=f"{parts.scheme}://{parts.netloc}")

    def follow(self, url: str, method: str = "GET", data: dict[str, str] | None = None,
               limit: int = 12):  # type: ignore[no-untyped-def]
        """Request ``url`` and follow redirects between nodes; (last response, its URL)."""
        resp = self.open(method, url, data)
        for _ in range(limit):
            if resp.status_code not in (301, 302, 303, 307) or not resp.location:
                return resp, url
            nxt = resp.location
            if nxt.startswith("/"):
                parts = urlsplit(url)
                nxt = f"{parts.scheme}://{parts.netloc}{nxt}"
            if self.node_of(nxt) is None:
                return resp, url  # leaves the federation: a department system
            url, resp = nxt, self.open("GET", nxt)
        raise AssertionError("redirect loop")

    def submit(self, page, url: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
        """POST a form of ``page`` (its CSRF token included) and follow the redirects."""
        import re

        found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
        assert found, "the page has no form"
        return self.follow(url, "POST", {"csrf_token": found.group(1), **data})
