"""Issue 5 acceptance in Chromium: an auditor signs in through the directory (real slapd)
with a TOTP second factor, searches the audit log and exports it as CSV."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from werkzeug.serving import make_server

from idp.staff.ldap import LdapConfig
from tests.admin.helpers import Authenticator, ldap_settings
from tests.staff.conftest import ldap_config  # noqa: F401
from tests.staff.ldap_seed import PEOPLE, role_map_json


@pytest.fixture
def settings_overrides(ldap_config: LdapConfig) -> dict[str, Any]:  # noqa: F811
    return ldap_settings(ldap_config, role_map_json(ldap_config.group_base))


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """The test app on a real loopback port (one thread: the embedded store is in-process)."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


def test_auditor_searches_the_log_and_exports_csv(chromium: Browser, server: str,
                                                 tmp_path: Path) -> None:
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768},
                                   accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(f"{server}/admin/audit")
        expect(page.locator("h1")).to_have_text("工作人员登录")
        page.fill("#username", "bob")
        page.fill("#password", PEOPLE["bob"].password)
        page.keyboard.press("Enter")  # keyboard-friendly: Enter submits

        expect(page.locator("h1")).to_have_text("绑定动态验证码")
        device = Authenticator(page.locator("#totp-secret").inner_text())
        page.fill("#code", device.code())
        page.keyboard.press("Enter")

        # Back where the auditor wanted to go, with the audit entry in the menu.
        expect(page.locator("h1")).to_have_text("审计日志")
        expect(page.locator("nav.side")).to_contain_text("审计日志")
        page.fill("#f-action", "staff:totp")
        page.fill("#f-actor", "staff:bob")
        page.locator("#search").click()
        rows = page.locator("#audit-results tbody tr")
        expect(rows.first).to_contain_text("staff:totp:enrol")
        expect(page.locator("#audit-results")).not_to_contain_text("staff:login:success")

        with page.expect_download() as info:
            page.locator("#export").click()
        path = tmp_path / "audit.csv"
        info.value.save_as(path)
        text = path.read_text(encoding="utf-8-sig")
        assert text.splitlines()[0].startswith("seq,time,actor,action")
        assert "staff:totp:enrol" in text and "staff:login:success" not in text

        page.locator("#verify").click()
        expect(page.locator("#chain-result")).to_contain_text("校验通过")

        # A phone-width check: the menu and results stay usable.
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{server}/admin/audit?action=admin:audit")
        expect(page.locator("#audit-results")).to_contain_text("admin:audit:export")
    finally:
        context.close()
