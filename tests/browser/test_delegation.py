"""Issue 4 item 4 in Chromium: a legal representative grants a staff member authority over one
department system for 30 days; the staff member sees it in their account centre (R-42)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.delegation.helpers import id_number, open_org, phone
from tests.delegation.surface import departments
from tests.simulator.server import Running, running

PASSWORD = "Zhang3-Passw0rd"
CHINA = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def live(app) -> Iterator[Running]:  # type: ignore[no-untyped-def]
    with running(app) as server:
        yield server


def sign_in(page: Page, live: Running, identifier: str) -> None:
    page.goto(f"{live.url}/login")
    page.fill("input[name=identifier]", identifier)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1")).to_have_text("账号中心")


def test_representative_grants_staff_member_30_days(page: Page, live: Running, platform,
                                                   make_citizen) -> None:
    rep = make_citizen(id_number=id_number(1), phone=phone(1), name="王建国")
    staff = make_citizen(id_number=id_number(2), phone=phone(2), name="李晓红")
    departments(platform)
    open_org(platform, rep.person_id)

    sign_in(page, live, rep.id_number)
    page.get_by_role("listitem").filter(has_text="我的企业与授权").get_by_role("link").click()
    page.get_by_role("link", name="福州示例科技有限公司").click()
    expect(page.get_by_text("尚未授权任何人。")).to_be_visible()
    page.get_by_role("link", name="新增授权").click()

    page.fill("input[name=identifier]", staff.phone)
    page.get_by_role("group", name="税务服务").get_by_label("全部事项").check()
    end = (dt.datetime.now(CHINA).date() + dt.timedelta(days=30)).isoformat()
    expect(page.locator("input[name=valid_until]")).to_have_value(end)  # 30 days by default
    page.get_by_role("button", name="下一步").click()
    # Confirmation shows only the masked name and phone of the grantee.
    expect(page.locator("#grantee-confirm")).to_contain_text("李*")
    expect(page.locator("#grantee-confirm")).to_contain_text("139****0002")
    page.get_by_role("button", name="确认授权").click()
    expect(page.get_by_role("status")).to_have_text("授权成功,被授权人已收到短信通知。")
    tree = page.locator("ul.grant-tree")
    expect(tree).to_contain_text("税务服务:全部事项")
    expect(tree).to_contain_text(end)
    assert staff.phone not in page.content()

    page.context.clear_cookies()
    sign_in(page, live, staff.phone)
    page.get_by_role("listitem").filter(has_text="我的企业与授权").get_by_role("link").click()
    expect(page.locator("p.hint").filter(has_text="被授权人")).to_be_visible()
    page.get_by_role("link", name="福州示例科技有限公司").click()
    held = page.locator("section", has=page.get_by_role("heading", name="我持有的授权"))
    expect(held).to_contain_text("税务服务:全部事项")
    expect(held).to_contain_text(end)
    expect(held).to_contain_text("王*")  # who granted it, masked
    expect(page.get_by_role("heading", name="授权树")).to_have_count(0)
