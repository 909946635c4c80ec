"""Issue 5 acceptance in Chromium: ban and unban (R-51, R-52).

The platform runs in-process on a real loopback port, with a demo department system (the
authlib relying party of `demo.rp`) on another; a citizen signs in to that system through
the platform in one browser, a manager bans the account in the console in another, and the
department system's session ends through back-channel logout. Then an unban asked and
"approved" by the same person is refused, and a department head grants it.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect
from werkzeug.serving import make_server

from demo.rp import create_rp
from demo.rp.config import SCOPE, SYSTEMS, RpConfig, urls_for
from idp.oidc import clients as client_service
from idp.platform import Platform
from idp.serve import free_port
from idp.staff.directory import Role
from tests.admin.bans_helpers import prepare_banned
from tests.admin.helpers import make_local_staff
from tests.browser.conftest import desk, staff_first_sign_in
from tests.browser.screenshots import shot

IDP_PORT = free_port()
ISSUER = f"http://127.0.0.1:{IDP_PORT}"
REASON = "冒用他人身份办理业务"
BASIS = "《网络安全法》第二十四条"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"issuer": ISSUER}  # and the embedded local staff directory


def _serve(app: Flask, port: int) -> Iterator[str]:
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(5)
        httpd.server_close()


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    yield from _serve(app, IDP_PORT)


@pytest.fixture
def department_system(server: str, platform: Platform, tmp_path: Path) -> Iterator[str]:
    """社会保障服务 (demo RP), registered with a back-channel logout URI, on its own port."""
    system, port = SYSTEMS["social_security"], free_port()
    urls = urls_for(system, port=port)
    spec = client_service.ClientSpec(
        name=system.client_name, redirect_uris=[urls["redirect_uri"]],
        grant_types=["authorization_code", "refresh_token"], scope=SCOPE,
        post_logout_redirect_uris=[urls["post_logout_redirect_uri"]],
        backchannel_logout_uri=urls["backchannel_logout_uri"], skip_consent=True)
    with platform.db.session() as session:
        client, secret = client_service.create(session, platform.settings.secret_key, spec,
                                               actor="test")
        client_id = client.client_id
    rp = create_rp(RpConfig(system=system, base_url=urls["base_url"], issuer=server,
                            client_id=client_id, client_secret=str(secret),
                            data_dir=tmp_path, secret_key=secrets.token_urlsafe(32)))
    yield from _serve(rp, port)


@dataclass
class Console:
    """A staff member's browser on the console."""

    context: BrowserContext
    page: Page


def _staff_signs_in(chromium: Browser, server: str, username: str) -> Console:
    context = desk(chromium)
    page = context.new_page()
    staff_first_sign_in(page, f"{server}/admin/accounts", username, "账号封禁管理")
    return Console(context, page)


def _open_account(console: Console, identifier: str) -> None:
    page = console.page
    page.locator("nav.side").get_by_role("link", name="账号封禁管理").click()
    page.fill("#identifier", identifier)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("账号状态记录")


def _sms(platform: Platform, phone: str) -> list[str]:
    return [m.text for m in platform.sms.messages(phone)]  # type: ignore[attr-defined]


def test_ban_ends_the_department_system_session(chromium: Browser, server: str,
                                                department_system: str, platform: Platform,
                                                make_citizen) -> None:  # type: ignore[no-untyped-def]
    citizen = make_citizen()
    make_local_staff(platform, "wang.manager", [Role.MANAGER], department="市政务服务中心")
    person_browser = desk(chromium, 390, 844)
    staff = None
    try:
        # The citizen signs in to the department system through the platform.
        page = person_browser.new_page()
        page.goto(department_system)
        page.get_by_role("link", name="统一身份认证登录").click()
        page.fill("input[name=identifier]", citizen.id_number)
        page.fill("input[name=password]", citizen.password)
        page.get_by_role("button", name="登录").click()
        expect(page.locator("#signed-in")).to_be_visible()
        assert page.url.startswith(department_system)

        # A manager finds the account by phone (shown masked) and bans it.
        staff = _staff_signs_in(chromium, server, "wang.manager")
        _open_account(staff, citizen.phone)
        expect(staff.page.locator("#masked-number")).not_to_have_text(citizen.id_number)
        expect(staff.page.locator("#account-status")).to_have_text("正常")
        staff.page.fill("#reason", REASON)
        staff.page.fill("#legal_basis", BASIS)
        shot(staff.page, "ban-form")
        staff.page.locator("#ban").click()
        expect(staff.page.locator("#done")).to_contain_text("账号已封禁")
        expect(staff.page.locator("#done")).to_contain_text("已短信通知本人")
        expect(staff.page.locator("#done")).not_to_contain_text("未能接收")
        expect(staff.page.locator("#account-status")).to_have_text("已封禁")
        expect(staff.page.locator("#bans")).to_contain_text(BASIS)
        shot(staff.page, "ban-done")

        # The department system heard the back-channel logout: its session is gone.
        status = requests.get(f"{department_system}/session.json", timeout=5,
                              cookies={c["name"]: c["value"]
                                       for c in person_browser.cookies(department_system)})
        assert status.json() == {"signed_in": False}
        page.reload()
        expect(page.locator("#signed-in")).to_have_count(0)
        # And the person was told by SMS, with the reason and the managing department.
        assert any(REASON in text and "市政务服务中心" in text
                   for text in _sms(platform, citizen.phone))
        # Signing in again is refused: single sign-on does not bring the session back.
        page.get_by_role("link", name="统一身份认证登录").click()
        expect(page.locator("input[name=password]")).to_be_visible()
        page.fill("input[name=identifier]", citizen.id_number)
        page.fill("input[name=password]", citizen.password)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_text("该账号已被停用")).to_be_visible()
        assert not page.url.startswith(department_system)
    finally:
        person_browser.close()
        if staff is not None:
            staff.context.close()


def test_unban_needs_a_second_person(chromium: Browser, server: str, platform: Platform,
                                     make_citizen) -> None:  # type: ignore[no-untyped-def]
    citizen = make_citizen()
    prepare_banned(platform, citizen.person_id)
    make_local_staff(platform, "li.both", [Role.MANAGER, Role.DEPARTMENT_HEAD],
                     department="市政务服务中心")
    make_local_staff(platform, "zhao.head", [Role.DEPARTMENT_HEAD],
                     department="市政务服务中心")
    asker = _staff_signs_in(chromium, server, "li.both")
    head = None
    try:
        _open_account(asker, citizen.id_number)
        asker.page.fill("#reason", "核实系他人冒用,本人申请恢复")
        asker.page.locator("#request-unban").click()
        expect(asker.page.locator("#done")).to_contain_text("解封申请已提交")
        expect(asker.page.locator("#pending")).to_contain_text("staff:li.both")
        shot(asker.page, "unban-requested")
        # The one who asked cannot approve, though a department head by role.
        asker.page.locator("#approve").click()
        expect(asker.page.locator("h1")).to_have_text("无权访问")
        expect(asker.page.locator("[role=alert]")).to_contain_text("不能审批本人提出的申请")

        head = _staff_signs_in(chromium, server, "zhao.head")
        head.page.locator("nav.side").get_by_role("link", name="解封审批").click()
        expect(head.page.locator("#pending-requests")).to_contain_text("核实系他人冒用")
        shot(head.page, "unban-requests")
        head.page.locator("#pending-requests").get_by_role("link", name="审批").click()
        head.page.fill("#decision-reason", "经核实同意解封")
        shot(head.page, "unban-decide")
        head.page.locator("#approve").click()
        expect(head.page.locator("#done")).to_contain_text("已批准解封")
        expect(head.page.locator("#done")).to_contain_text("已短信通知本人")
        expect(head.page.locator("#account-status")).to_have_text("正常")
        expect(head.page.locator("#unban-requests")).to_contain_text("staff:zhao.head")
        assert _sms(platform, citizen.phone)[0] == "【政务服务】您的账号已恢复使用。"

        # A phone-width look at the history: still readable.
        head.page.set_viewport_size({"width": 390, "height": 844})
        head.page.reload()
        expect(head.page.locator("#bans")).to_contain_text("测试用封禁原因")
    finally:
        asker.context.close()
        if head is not None:
            head.context.close()
