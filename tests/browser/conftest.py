"""Real-browser fixtures: Debian's Chromium driven by Playwright (executable_path).

Playwright's own browser download cannot work here; the Chromium binary comes from the
Debian package that scripts/services.sh installs (IDP_TEST_CHROMIUM, /usr/bin/chromium).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.admin.helpers import STAFF_PASSWORD, Authenticator

CHROMIUM = os.environ.get("IDP_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make services`")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser profile (no cookies) per test, phone-sized by default."""
    context = chromium.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def desk(chromium: Browser, width: int = 1366, height: int = 768) -> BrowserContext:
    """A fresh browser profile, desk-sized by default (the console at a hall's counter)."""
    context = chromium.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    return context


def staff_first_sign_in(page: Page, url: str, username: str, landing: str,
                        enrolment_code: str = "") -> Authenticator:
    """A staff member's first console sign-in at ``url``: directory password, the one-time
    enrolment code after an administrator's reset, then a new authenticator is bound; the
    page lands on the heading ``landing``. Returns the authenticator."""
    page.goto(url)
    expect(page.locator("h1")).to_have_text("工作人员登录")
    page.fill("#username", username)
    page.fill("#password", STAFF_PASSWORD)
    page.keyboard.press("Enter")
    if enrolment_code:
        expect(page.locator("h1")).to_have_text("输入启用码")
        page.fill("#code", enrolment_code)
        page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("绑定动态验证码")
    device = Authenticator(page.locator("#totp-secret").inner_text())
    page.fill("#code", device.code())
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(landing)
    return device
