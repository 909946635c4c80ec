"""Issue 5 acceptance in Chromium: counter registration from a posted card read to the first
login with a forced password change (R-11).

The card-reader agent posts the card through the JSON API with the clerk's staff token; the
clerk (local staff directory, TOTP) completes the registration in the console at 1366×768;
then the citizen, on a phone-sized browser, signs in with the ID number and the handed-over
password, must change it, and reaches the account centre. The population registry is the
bundled simulator.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from playwright.sync_api import Browser, expect
from werkzeug.serving import make_server

from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.counter_world import CARD, PHONE
from tests.admin.helpers import STAFF_PASSWORD, make_local_staff
from tests.browser.conftest import desk, staff_first_sign_in
from tests.browser.screenshots import shot
from tests.registration.conftest import simulator  # noqa: F401
from tests.simulator.server import CLIENT_ID, KEY, Running

NEW_PASSWORD = "Liu-Yang-N3w-Pass"


@pytest.fixture
def settings_overrides(simulator: Running) -> dict[str, Any]:  # noqa: F811
    simulator.sim.modes.set("all", "ok")
    return {"authority_url": simulator.url, "authority_client_id": CLIENT_ID,
            "authority_key": KEY, "authority_read_timeout_ms": 2000}


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


def sms_code(platform: Platform) -> str:
    text = platform.sms.messages(PHONE)[0].text  # type: ignore[attr-defined]
    return "".join(c for c in text if c.isdigit())[:6]


def test_counter_registration_to_first_login_with_forced_change(
        chromium: Browser, server: str, platform: Platform) -> None:
    clerk = make_local_staff(platform, "clerk-li", [Role.CLERK])
    hall = desk(chromium)
    page = hall.new_page()
    try:
        # The clerk starts the shift: directory password, then enrols the authenticator.
        device = staff_first_sign_in(page, f"{server}/admin/counter", clerk, "窗口业务")
        expect(page.locator("#counter-cases")).to_contain_text("暂无待办理")

        # The card-reader agent: a staff token, then the card read (fields and chip photo).
        token = requests.post(f"{server}/api/v1/admin/session", timeout=10, json={
            "username": clerk, "password": STAFF_PASSWORD, "totp": device.code()}
        ).json()["token"]
        read = requests.post(f"{server}/api/v1/admin/counter/card-reads", json=CARD,
                             timeout=10, headers={"Authorization": f"Bearer {token}"})
        assert read.status_code == 201, read.text

        page.reload()
        expect(page.locator("h1")).to_have_text("窗口业务")
        row = page.locator("#counter-cases tbody tr").first
        expect(row).to_contain_text("3502**********0157")
        row.get_by_role("link", name="办理").click()

        expect(page.locator("#case-number")).to_have_text("3502**********0157")
        expect(page.locator("img.id-photo")).to_be_visible()
        page.fill("#phone", PHONE)
        page.locator("#send-code").click()
        expect(page.locator("#counter-notice")).to_contain_text("验证码已发送")
        page.fill("#code", sms_code(platform))  # the applicant reads it out
        page.locator("#verify-code").click()
        expect(page.locator("#phone-verified")).to_be_visible()
        page.check("#signed")
        page.locator("#activate").click()

        expect(page.locator("h1")).to_have_text("账号已开通")
        expect(page.locator("#account-name")).to_have_text("3502**********0157")
        password = page.locator("#new-password").inner_text().strip()
        assert len(password) == 12
        shot(page, "counter-done")  # the slip handed over (synthetic person and password)

        page.locator("#print-agreement").click()
        expect(page.locator("#agreement-text")).to_contain_text("服务协议")
        expect(page.locator("#ag-channel")).to_have_text("窗口书面签署")
        page.emulate_media(media="print")  # the print view hides the console around it
        expect(page.locator("nav.side")).to_be_hidden()
        expect(page.locator("#agreement-print")).to_be_visible()
    finally:
        hall.close()

    citizen = chromium.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    citizen.set_default_timeout(15_000)
    page = citizen.new_page()
    try:
        page.goto(f"{server}/login")
        page.fill("input[name=identifier]", CARD["id_number"])
        page.fill("input[name=password]", password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url("**/password/change")
        page.fill("input[name=new_password]", NEW_PASSWORD)
        page.fill("input[name=confirm_password]", NEW_PASSWORD)
        page.get_by_role("button", name="保存并继续").click()
        expect(page.locator("h1")).to_have_text("账号中心")
        expect(page.locator("body")).to_contain_text("刘*")
    finally:
        citizen.close()
