"""QR login end to end (issue 3 acceptance): Chromium waits on the QR page while a test plays
the mobile app through the JSON API; the page must finish the login within 2 s (R-30)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.oidc.helpers import Pkce, auth_params, query, redeem, register, verify_id_token
from tests.qr.helpers import signed_in_app
from tests.simulator.server import Running, running


@pytest.fixture
def live(app) -> Iterator[Running]:  # type: ignore[no-untyped-def]
    """The platform itself served over real HTTP on a loopback port."""
    with running(app) as server:
        yield server


def _app_call(live: Running, token: str, ticket: str, action: str) -> dict:  # type: ignore[type-arg]
    resp = requests.post(f"{live.url}/api/v1/qr/{ticket}/{action}",
                         headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def test_qr_login_in_chromium_while_the_app_confirms(page: Page, live: Running, app, platform,
                                                     citizen, client) -> None:
    # The RP's callback on the same loopback server (a 404 page there is fine: only the
    # code in its URL matters, and Playwright cannot intercept the end of a redirect chain).
    callback = f"{live.url}/rp-callback"
    rp = register(platform, name="社保服务", redirect_uris=[callback])
    phone = signed_in_app(app, platform, citizen)
    pkce = Pkce()
    params = auth_params(rp, pkce)

    page.goto(f"{live.url}/authorize?{urlencode(params)}")
    page.get_by_role("link", name="扫码登录").click()
    box = page.locator("#qr-login")
    expect(box).to_be_visible()
    expect(page.locator("img.qr")).to_be_visible()
    ticket = box.get_attribute("data-ticket")
    assert ticket

    scanned = _app_call(live, phone.token, ticket, "scan")
    assert scanned["client_name"] == "社保服务" and scanned["browser"].startswith("Chrome")
    expect(page.locator("#qr-state")).to_have_text("已扫描,请在手机上确认登录。", timeout=2000)

    _app_call(live, phone.token, ticket, "confirm")
    confirmed_at = time.monotonic()
    page.wait_for_url(re.compile(re.escape(callback) + r"\?.*code="), timeout=2000,
                      wait_until="commit")
    assert time.monotonic() - confirmed_at < 2.0

    got = query(page.url)
    assert got["state"] == params["state"]
    claims = verify_id_token(client, rp, redeem(client, rp, got["code"], pkce)
                             .get_json()["id_token"])
    assert claims["amr"] == ["qr"] and claims["sub"] == citizen.sub


def test_denial_on_the_phone_shows_on_the_page(page: Page, live: Running, app, platform,
                                               citizen) -> None:
    phone = signed_in_app(app, platform, citizen)
    page.goto(f"{live.url}/login/qr")
    ticket = page.locator("#qr-login").get_attribute("data-ticket")
    assert ticket
    _app_call(live, phone.token, ticket, "scan")
    _app_call(live, phone.token, ticket, "deny")
    expect(page.locator("#qr-state")).to_have_text("您已在手机上拒绝本次登录。", timeout=2000)
    expect(page.get_by_role("link", name="刷新二维码")).to_be_visible()
    assert "/login/qr" in page.url
