"""The staff page (工作人员) in Chromium: a platform administrator resets a lost authenticator.

A clerk has enrolled TOTP; the platform administrator, at 1366×768 and at phone width, sees
every staff member who has signed in with roles and TOTP state, resets the clerk's
authenticator (never their own: no button on their own row) and gets a one-time enrolment
code, which the clerk must give at the next sign-in before enrolling again.
Writes the staff screenshots of docs/console.md with IDP_SCREENSHOTS.
"""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.helpers import make_local_staff
from tests.browser.conftest import desk, staff_first_sign_in
from tests.browser.screenshots import shot
from tests.browser.test_counter_registration import server  # noqa: F401


def _sign_in(page: Page, server: str, username: str,  # noqa: F811
             enrolment_code: str = "") -> None:
    """To the console home; ``enrolment_code``: the administrator's, after a reset."""
    staff_first_sign_in(page, f"{server}/admin/", username, "工作台", enrolment_code)


def test_a_platform_administrator_resets_a_clerks_authenticator(
        chromium: Browser, server: str, platform: Platform) -> None:  # noqa: F811
    make_local_staff(platform, "clerk-chen", [Role.CLERK], department="思明区行政服务中心")
    make_local_staff(platform, "audit-sun", [Role.AUDITOR], department="市数据管理局")
    make_local_staff(platform, "admin-zhou", [Role.PLATFORM_ADMIN], department="市数据管理局")
    context = desk(chromium)
    try:
        for who in ("clerk-chen", "audit-sun"):  # they have signed in once, with TOTP
            other = context.browser.new_context(locale="zh-CN")  # type: ignore[union-attr]
            _sign_in(other.new_page(), server, who)
            other.close()
        page = context.new_page()
        _sign_in(page, server, "admin-zhou")
        page.locator("nav.side").get_by_role("link", name="工作人员").click()
        expect(page.locator("h1")).to_have_text("工作人员")
        table = page.locator("#staff")
        expect(table).to_contain_text("思明区行政服务中心")
        expect(table).to_contain_text("窗口工作人员")
        expect(page.locator("#reset-admin-zhou")).to_have_count(0)  # never one's own
        shot(page, "staff")
        page.set_viewport_size({"width": 390, "height": 844})
        expect(page.locator("#reset-clerk-chen")).to_be_visible()  # reachable on a phone
        page.set_viewport_size({"width": 1366, "height": 768})
        page.locator("#reset-clerk-chen").click()
        expect(page.locator("#reset-done")).to_contain_text("clerk-chen")
        code = page.locator("#enrolment-code").inner_text().strip()  # shown this once
        expect(page.locator("#staff")).to_contain_text("未绑定")
    finally:
        context.close()

    again = chromium.new_context(locale="zh-CN")
    try:
        page = again.new_page()
        _sign_in(page, server, "clerk-chen", code)  # enrols a new authenticator
    finally:
        again.close()
