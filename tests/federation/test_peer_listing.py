"""Peer clients: a URL-shaped ``client_id`` is resolved only when the federation lists it
(issue 6 item 5; security review: no fetch from an address the caller chose).

Four in-process nodes (conftest.py): national; province A with city A1; province B.
"""

from __future__ import annotations

import pytest

from idp.federation import known, peer_clients
from tests.federation.harness import Federation
from tests.federation.test_set_hardening import Recorder
from tests.oidc import helpers

A1 = "http://city-a1.test"


@pytest.fixture
def outside(fed: Federation):  # type: ignore[no-untyped-def]
    """Record every request any node makes to a host that is not a node."""
    recorder = Recorder()
    for node in fed.nodes.values():
        node.fed.http.mount("http://", recorder)
        node.fed.http.mount("https://", recorder)
    return recorder


def test_every_node_of_the_federation_is_a_peer_client(fed: Federation, outside) -> None:  # type: ignore[no-untyped-def]
    b = fed.nodes["prov-b"]
    for name in ("national", "prov-a", "city-a1"):
        client = peer_clients.peer_client(b.platform, fed.nodes[name].entity_id)
        assert client is not None and client.client_id == fed.nodes[name].entity_id
    assert outside.urls == []


@pytest.mark.parametrize("client_id", [
    "http://127.0.0.1:6379/internal",
    "http://169.254.169.254/latest/meta-data",
    "https://attacker.example",
    "http://city-zz.test",  # node-shaped, listed by nobody
    "http://city-a1.test.attacker.example",
])
def test_an_unlisted_client_id_is_refused_without_a_fetch(fed: Federation, outside,  # type: ignore[no-untyped-def]
                                                          monkeypatch, client_id: str) -> None:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # http://*.test nodes (harness.py)
    a1 = fed.nodes["city-a1"]
    assert peer_clients.peer_client(a1.platform, client_id) is None
    resp = a1.client().get("/authorize", base_url=A1, query_string={
        "response_type": "code", "client_id": client_id, "scope": "openid",
        "redirect_uri": client_id + "/federation/callback", "state": "s",
        "code_challenge": helpers.Pkce().challenge, "code_challenge_method": "S256"})
    assert resp.status_code == 400 and not resp.location
    resp = a1.client().post("/token", base_url=A1, data={
        "grant_type": "authorization_code", "code": "x", "client_id": client_id,
        "redirect_uri": client_id + "/cb"})
    assert resp.status_code in (400, 401) and resp.get_json()["error"] == "invalid_client"
    assert outside.urls == []


def test_a_node_added_later_is_listed_after_the_refresh_interval(fed: Federation) -> None:
    b = fed.nodes["prov-b"].fed
    a2 = fed.add("city-a2", "city", "350500", parent="prov-a")
    t0 = 1_000_000.0
    assert not known.is_listed(b, a2.entity_id, now=t0)
    fed.vouch("prov-a", "city-a2")
    assert not known.is_listed(b, a2.entity_id, now=t0 + 1)  # no refetch storm on misses
    assert known.is_listed(b, a2.entity_id, now=t0 + known.REFRESH_SECONDS)


def test_listings_are_only_fetched_from_our_own_chain(fed: Federation, outside) -> None:  # type: ignore[no-untyped-def]
    """A node whose parent is unreachable knows no listings: only local facts remain."""
    a1 = fed.nodes["city-a1"]
    a1.fed.http.mount(fed.nodes["prov-a"].entity_id + "/", Recorder())
    a1.platform.store.__init__()  # type: ignore[misc]  # MemoryStore: drop chain caches
    assert known.anchor_of(a1.fed) is None
    assert not known.is_listed(a1.fed, fed.nodes["prov-b"].entity_id)
    assert known.is_known_node(a1.fed, fed.nodes["prov-a"].entity_id)  # our parent
    assert outside.urls == []

