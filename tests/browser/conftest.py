"""Helpers for the browser tests; the `chromium` and `page` fixtures are in
tests/browser/chromium.py, registered once for the whole suite by tests/conftest.py."""

from __future__ import annotations

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.admin.helpers import STAFF_PASSWORD, Authenticator


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
