"""Issue 4 acceptance in Chromium, on the whole demo (tests/e2e/stack.py): a representative
opens the enterprise account online (business registry, in the authority simulator), grants
a staff member authority over one demo department system for 30 days, the staff member signs
into that system acting for the enterprise and sees it with the authority; in the other demo
system the enterprise is not offered (R-20, R-42, R-54)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from demo.rp.config import SYSTEMS
from simulator.business import credit_code
from tests.delegation.helpers import id_number, phone
from tests.e2e.stack import DemoStack, start_demo

PASSWORD = "Accept-Passw0rd"
CHINA = dt.timezone(dt.timedelta(hours=8))
# The simulator's registry lists 刘洋 (its person P04) as representative of E01.
REP = {"name": "刘洋", "id_number": "350203198806300157", "phone": "13800138004"}
STAFF = {"name": "李晓红", "id_number": id_number(2), "phone": phone(2)}
E01 = {"code": credit_code("91", "350200", "MA2XK7L0"), "name": "厦门鹭江数字科技有限公司"}
SOCIAL = SYSTEMS["social_security"].client_name
HOUSING = SYSTEMS["housing_fund"].client_name


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    stack = start_demo(tmp_path_factory.mktemp("enterprise-demo"))
    try:
        for person in (REP, STAFF):
            stack.idp("accounts", "create", "--id-number", person["id_number"], "--name",
                      person["name"], "--phone", person["phone"], "--password", PASSWORD,
                      "--level", "2")
        yield stack
    finally:
        stack.stop()


def _platform_login(page: Page, demo: DemoStack, who: dict[str, str]) -> None:
    page.goto(f"{demo.issuer}/login")
    _fill_login(page, who)
    expect(page.locator("h1")).to_have_text("账号中心")


def _fill_login(page: Page, who: dict[str, str]) -> None:
    page.fill("input[name=identifier]", who["id_number"])
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_staff_member_acts_for_the_enterprise_in_one_system_only(page: Page,
                                                                 demo: DemoStack) -> None:
    # 1. The representative opens the enterprise account: the registry confirms them.
    _platform_login(page, demo, REP)
    page.goto(f"{demo.issuer}/org")
    page.get_by_role("link", name="法定代表人激活(登记机关核验)").click()
    page.fill("input[name=credit_code]", E01["code"])
    page.get_by_role("button", name="核验").click()
    expect(page.locator("dl.facts")).to_contain_text(E01["name"])
    page.check("#f-accept")
    page.get_by_role("button", name="同意并开户").click()
    expect(page.get_by_text("法人账户已开通")).to_be_visible()

    # 2. ...and grants the staff member one demo system, for the default 30 days.
    page.goto(f"{demo.issuer}/account/orgs/{E01['code']}/grant")
    page.fill("input[name=identifier]", STAFF["phone"])
    page.get_by_role("group", name=SOCIAL).get_by_label("全部事项").check()
    end = (dt.datetime.now(CHINA).date() + dt.timedelta(days=30)).isoformat()
    expect(page.locator("input[name=valid_until]")).to_have_value(end)
    page.get_by_role("button", name="下一步").click()
    page.get_by_role("button", name="确认授权").click()
    expect(page.get_by_role("status")).to_have_text("授权成功,被授权人已收到短信通知。")

    # 3. The staff member signs into the social security system, acting for the enterprise.
    page.context.clear_cookies()
    page.goto(demo.social)
    page.get_by_role("link", name="统一身份认证登录").click()
    _fill_login(page, STAFF)
    expect(page.locator("h1")).to_have_text("选择办事身份")
    chooser = page.locator("#acting-chooser")
    expect(chooser.get_by_role("button")).to_have_count(2)  # myself, or E01
    chooser.get_by_role("button", name=f"代表 {E01['name']} 办理").click()
    expect(page.locator("#signed-in")).to_be_visible()
    assert page.url.startswith(demo.social)
    acting = page.locator("#acting-for")
    expect(acting).to_contain_text(E01["name"])
    expect(acting).to_contain_text(E01["code"])
    items = page.locator("#authority-items")
    expect(items).to_contain_text("全部事项")
    # Valid through the last day of the 30: the claim's end is the next midnight (UTC+8).
    day_after = dt.date.fromisoformat(end) + dt.timedelta(days=1)
    expect(items.locator(".valid-until")).to_have_text(f"{day_after.isoformat()} 00:00 (UTC+8)")

    # 4. The housing fund system: no authority there, so no chooser and no enterprise.
    page.goto(demo.housing)
    page.get_by_role("link", name="统一身份认证登录").click()
    expect(page.locator("#signed-in")).to_be_visible()
    assert page.url.startswith(demo.housing)
    expect(page.locator("#acting-for")).to_have_count(0)
