"""The same federation over real HTTP on loopback (werkzeug servers in threads, port 0)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from idp import create_app
from idp.federation import subordinates
from idp.federation.node import federation
from idp.settings import Settings
from idp.store import MemoryStore
from tests.federation.harness import DIRECTORY_KEY, FAST, prepare_database


class _Late:
    """A WSGI app set after the server has its port (the issuer needs the port)."""

    app = None

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        return self.app(environ, start_response)  # type: ignore[misc]


@pytest.fixture
def servers(tmp_path) -> Iterator[dict]:  # type: ignore[type-arg]
    started, anchor = {}, ""
    plan = [("national", "national", "000000", None), ("prov-a", "province", "350000",
            "national"), ("city-a1", "city", "350200", "prov-a")]
    for name, level, region, parent in plan:
        late = _Late()
        server = make_server("127.0.0.1", 0, late, threaded=True)
        issuer = f"http://127.0.0.1:{server.server_port}"
        settings = Settings(testing=True, secure_cookies=False, issuer=issuer,
                            database_url=f"sqlite:///{tmp_path / name}.sqlite3",
                            federation_level=level, federation_region=region,
                            federation_parent=started[parent][0] if parent else "",
                            federation_anchor_jwks=anchor,
                            federation_directory_key=DIRECTORY_KEY,
                            federation_allow_http=True, **FAST)
        prepare_database(settings.database_url)
        late.app = create_app(settings, store=MemoryStore())
        node = federation(late.app.extensions["idp"])
        if parent:
            parent_node = started[parent][1]
            with parent_node.platform.db.session() as session:
                subordinates.add_child(session, own_level=parent_node.config.level,
                                       own_region=parent_node.config.region,
                                       entity_id=issuer, region=region,
                                       jwks=node.keys.jwks(), actor="test",
                                       allow_http=True)
        else:
            anchor = json.dumps(node.keys.jwks())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started[name] = (issuer, node, server)
    yield started
    for _, node, server in started.values():
        server.shutdown()
        server.server_close()
        node.platform.db.dispose()


def test_chain_and_directory_over_real_http(servers):
    city_id, city, _ = servers["city-a1"]
    national_id, national, _ = servers["national"]
    chain = national.resolver.resolve(city_id)
    assert chain.path == [city_id, servers["prov-a"][0], national_id]
    assert city.directory.register_person("resident_id", "350203199001011234") == city_id
    prov_a = servers["prov-a"][1]
    assert prov_a.directory.find_home("resident_id", "350203199001011234", "t") == city_id
