"""The platform as a real HTTP server inside the test process (werkzeug, threaded), and
what a connector's tests do to it from outside."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from idp.accounts.models import AccountStatus, Person
from idp.accounts.service import Accounts
from idp.oidc.logout import LogoutNotice, end_person_sessions
from idp.platform import Platform
from idp.serve import free_port


@contextmanager
def serving(app: Flask, port: int) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1:``port`` for the duration; yields its base URL."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def live_fixtures() -> tuple[int, str, Callable[..., Any], Callable[..., Any]]:
    """A port chosen now, its issuer URL, and the ``settings_overrides`` and ``live_server``
    fixtures serving the platform there: the issuer must be known before the app is built.

    In a test module or conftest: ``PORT, ISSUER, settings_overrides, live_server =
    live_fixtures()``.
    """
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"

    @pytest.fixture(name="settings_overrides")
    def settings() -> dict[str, Any]:
        return {"issuer": issuer}

    @pytest.fixture(name="live_server")
    def live(app: Flask) -> Iterator[str]:
        with serving(app, port) as url:
            yield url

    return port, issuer, settings, live


def ban(platform: Platform, person_id: int) -> list[LogoutNotice]:
    """What the ban console does: the status, then every session ended; the logout notices
    for the clients (not sent)."""
    with platform.db.session() as session:
        person = session.get(Person, person_id)
        assert person is not None
        Accounts(session, platform.protector, platform.hasher).set_status(
            person, AccountStatus.BANNED)
        return end_person_sessions(platform, session, person, "ban", actor="test")
