"""Issue 3 acceptance, as a new user would do it in Chromium: register online with three
factors (name + document, phone with SMS code, social security card), sign the agreement,
and arrive signed in at a demo department system."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.e2e.stack import DemoStack, start_demo

# P03 of the simulator's seeded people (docs/authorities.md).
PERSON = {"name": "李娜", "id_number": "440305199211080241", "phone": "13800138003",
          "social": "A10000003"}
PASSWORD = "Li-Na-Passw0rd"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    stack = start_demo(tmp_path_factory.mktemp("browser-register"))
    try:
        yield stack
    finally:
        stack.stop()


def sms_code(demo: DemoStack, phone: str) -> str:
    """The code from the demo's SMS outbox (development page, JSON form)."""
    found = requests.get(f"{demo.issuer}/dev/sms", params={"phone": phone, "format": "json"},
                         timeout=10).json()
    assert found, "no SMS was sent"
    return "".join(c for c in found[0]["text"] if c.isdigit())[:6]


def test_register_online_with_three_factors_and_sign_in_to_a_department_system(
        page: Page, demo: DemoStack) -> None:
    page.goto(demo.social)
    page.get_by_role("link", name="统一身份认证登录").click()
    page.locator("#register-link").click()

    # Step 1: name and document, checked with the population registry.
    expect(page.locator("h1")).to_have_text("实名注册")
    page.fill("input[name=name]", PERSON["name"])
    page.fill("input[name=id_number]", PERSON["id_number"])
    page.get_by_role("button", name="下一步").click()

    # Factor 2: the phone, carrier check then the SMS code proving possession.
    expect(page.locator("h1")).to_have_text("核验身份")
    phone = page.locator("#factor-phone")
    phone.locator("input[name=phone]").fill(PERSON["phone"])
    phone.get_by_role("button", name="核验并获取验证码").click()
    expect(page.locator("#factor-phone input[name=code]")).to_be_visible()
    page.fill("#factor-phone input[name=code]", sms_code(demo, PERSON["phone"]))
    page.locator("#factor-phone").get_by_role("button", name="确认").click()
    expect(page.locator("#factor-phone")).to_contain_text("已核验")

    # Factor 3: the social security card.
    social = page.locator("#factor-social_security")
    social.locator("input[name=card_number]").fill(PERSON["social"])
    social.get_by_role("button", name="核验").click()
    expect(page.locator("#factor-social_security")).to_contain_text("已核验")

    # Password, then the agreement: only now does the account exist.
    page.locator("#to-password").click()
    page.fill("input[name=new_password]", PASSWORD)
    page.fill("input[name=confirm_password]", PASSWORD)
    page.get_by_role("button", name="下一步").click()
    expect(page.locator("#agreement-text")).to_contain_text("服务协议")
    page.check("#f-accept")
    page.get_by_role("button", name="同意并完成注册").click()

    if not page.url.startswith(demo.social):  # first use of this client: consent
        page.locator("form[method=post] button").first.click()
    expect(page.locator("#signed-in")).to_be_visible()
    assert page.url.startswith(demo.social)
    expect(page.locator("#signed-in")).to_contain_text("李*")
