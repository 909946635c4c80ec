"""A running platform for a real CAS client library (python-cas), a browser (Flask's test
client sharing the same app) and a department system's single-logout receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import cas
import pytest

from idp.cas import services as registry
from idp.platform import Platform
from tests.live import live_fixtures

SERVICE = "https://dept.example.gov.cn/app/cas-callback"


PORT, ISSUER, settings_overrides, live_server = live_fixtures()


def cas_client(service_url: str = SERVICE, version: int = 3, **kw: Any) -> Any:
    """The department system's CAS client, talking HTTP to the running platform."""
    return cas.CASClient(version=version, service_url=service_url,
                         server_url=f"{ISSUER}/cas/", **kw)


def register(platform: Platform, **overrides: Any) -> int:
    values: dict[str, Any] = dict(name="公积金查询", pattern=SERVICE, scope="profile")
    values.update(overrides)
    with platform.db.session() as db:
        return registry.create(db, registry.ServiceSpec(**values), actor="test").id


class SloReceiver:
    """A department system's endpoint for single-logout POSTs (CAS 3.0 Appendix C)."""

    def __init__(self) -> None:
        self.received: list[dict[str, list[str]]] = []
        self.event = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                outer.received.append(parse_qs(self.rfile.read(length).decode()))
                outer.event.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slo"


@pytest.fixture
def slo_receiver() -> Iterator[SloReceiver]:
    receiver = SloReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    thread.join(5)
    receiver.server.server_close()
