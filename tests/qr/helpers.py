"""The mobile app and the waiting browser, as QR-login tests play them (R-30)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from idp.platform import Platform
from tests.oidc.helpers import Pkce, register, sign_in, tokens

TICKET = re.compile(r'data-ticket="([A-Za-z0-9_-]+)"')


@dataclass
class App:
    """The platform's mobile app: an OIDC public client holding a person's access token."""

    client_id: str
    token: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def app_client(platform: Platform, *, allowed: bool = True) -> Any:
    """Register the mobile app as a public client; allow it to confirm QR logins."""
    rp = register(platform, name="政务服务App", public=True, grant_types=["authorization_code"],
                  redirect_uris=["gov.app://callback"], scope="openid profile")
    if allowed:
        allowed_ids = f"{platform.settings.qr_app_clients} {rp.client_id}".strip()
        platform.settings = dataclasses.replace(platform.settings, qr_app_clients=allowed_ids)
    return rp


def signed_in_app(app: Flask, platform: Platform, citizen: Any, *, level: int = 1,
                  rp: Any = None) -> App:
    """A phone with the app signed in as ``citizen`` at ``level`` (its own browser jar)."""
    rp = rp or app_client(platform)
    phone: FlaskClient = app.test_client()
    sign_in(phone, platform, citizen, level=level)
    got = tokens(phone, rp, Pkce())
    return App(rp.client_id, got["access_token"])


def open_qr_page(browser: FlaskClient, **query: str) -> str:
    """Load the QR tab and read the ticket the page shows."""
    resp = browser.get("/login/qr", query_string=query)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    found = TICKET.search(resp.get_data(as_text=True))
    assert found, "the QR page shows no ticket"
    return found.group(1)


def csrf_of(browser: FlaskClient) -> str:
    with browser.session_transaction() as sess:
        return str(sess["csrf"])


def complete(browser: FlaskClient, **query: str) -> Any:
    return browser.post("/login/qr/complete", query_string=query,
                        data={"csrf_token": csrf_of(browser)})


def api(client: FlaskClient, app: App | None, ticket: str, action: str) -> Any:
    return client.post(f"/api/v1/qr/{ticket}/{action}",
                       headers=app.headers() if app else {})
