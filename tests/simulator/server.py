"""Run the authority simulator as a real HTTP server in a thread, for tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask
from werkzeug.serving import make_server

from simulator import Simulator

KEY = "test-simulator-key"
CLIENT_ID = "idp-test"
SMS_KEY = "test-sms-key"
SLOW_SECONDS = 4.0
READ_TIMEOUT = 2.0


@dataclass
class Running:
    url: str
    app: Flask

    @property
    def sim(self) -> Simulator:
        return self.app.extensions["simulator"]  # type: ignore[no-any-return]


@contextmanager
def running(app: Flask) -> Iterator[Running]:
    """Serve ``app`` on an ephemeral loopback port until the block ends."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Running(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
