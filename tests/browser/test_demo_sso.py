"""The demo walk-through in a real browser (issue 2 §9): one login, two department systems,
and signing out of one signs the browser out of the other through back-channel logout."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from demo.seed import DEMO_CITIZEN
from tests.e2e.stack import DemoStack, start_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    stack = start_demo(tmp_path_factory.mktemp("browser-demo"))
    try:
        yield stack
    finally:
        stack.stop()


def test_single_sign_on_and_single_logout_in_chromium(page: Page, demo: DemoStack) -> None:
    page.goto(demo.social)
    expect(page.locator("#signed-out")).to_be_visible()
    page.get_by_role("link", name="统一身份认证登录").click()

    # On the platform's login page, in Chinese, on a phone-sized screen.
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.fill("input[name=identifier]", DEMO_CITIZEN["id_number"])
    page.fill("input[name=password]", DEMO_CITIZEN["password"])
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#signed-in")).to_be_visible()
    assert page.url.startswith(demo.social)
    expect(page.locator("#signed-in")).to_contain_text("张*")

    # The second department system: one click, no login form.
    page.goto(demo.housing)
    page.get_by_role("link", name="统一身份认证登录").click()
    expect(page.locator("#signed-in")).to_be_visible()
    assert page.url.startswith(demo.housing)

    # Sign out at the first; the platform may ask to confirm.
    page.goto(demo.social)
    page.get_by_role("button", name="退出登录").click()
    if not page.url.startswith(demo.social):
        page.locator("form[method=post] button").first.click()
    page.goto(demo.housing)
    expect(page.locator("#signed-out")).to_be_visible()
