"""Staff sign-in to the console through the real OpenLDAP, with TOTP (issue 5 item 1)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.audit.models import AuditRecord
from idp.platform import Platform
from idp.staff.ldap import LdapConfig
from tests.admin.helpers import csrf, ldap_settings, page_sign_in
from tests.staff.conftest import BREAKGLASS_PASSWORD, BREAKGLASS_USER
from tests.staff.ldap_seed import PEOPLE, role_map_json

ALICE, BOB = PEOPLE["alice"], PEOPLE["bob"]


def _actions(platform: Platform, actor: str) -> list[tuple[str, str]]:
    with platform.db.session() as session:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.actor == actor)
                               .order_by(AuditRecord.seq)).all()
        return [(r.action, r.outcome) for r in rows]


def test_first_sign_in_enrols_totp_and_opens_a_role_filtered_console(
        client: FlaskClient, platform: Platform) -> None:
    page_sign_in(client, "alice", ALICE.password)
    cookie = client.get_cookie("idp_staff", path="/admin")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    assert client.get_cookie("idp_sso") is None  # not a citizen's SSO session
    html = client.get("/admin/").get_data(as_text=True)
    assert "王丽" in html and "市场监督管理局" in html
    assert "窗口工作人员" in html and "业务主管" in html
    assert "/admin/audit" not in html  # clerk + manager: no audit entry in the menu
    assert ("staff:totp:enrol", "success") in _actions(platform, "staff:alice")


def test_later_sign_in_asks_for_a_code_and_refuses_a_replayed_one(
        client: FlaskClient, app: Any, platform: Platform) -> None:
    device = page_sign_in(client, "bob", BOB.password)
    other = app.test_client()
    token = csrf(other)
    other.post("/admin/login", data={"username": "bob", "password": BOB.password,
                                     "csrf_token": token})
    html = other.get("/admin/totp").get_data(as_text=True)
    assert 'id="totp-secret"' not in html  # enrolled: the secret is never shown again
    resp = other.post("/admin/totp", data={"code": device.replay(), "csrf_token": token})
    assert resp.status_code == 401 and "已使用" in resp.get_data(as_text=True)
    assert other.get("/admin/").status_code == 302  # still pending
    assert ("staff:totp:failure", "failure") in _actions(platform, "staff:bob")
    resp = other.post("/admin/totp", data={"code": device.code(), "csrf_token": token})
    assert resp.status_code == 302 and other.get("/admin/").status_code == 200


@pytest.mark.parametrize(("username", "password", "status", "message"), [
    ("alice", "wrong-password", 401, "用户名或密码不正确"),
    ("nobody", "whatever-Passw0rd", 401, "用户名或密码不正确"),
    ("carol", PEOPLE["carol"].password, 403, "已被停用"),
    ("dave", PEOPLE["dave"].password, 403, "未被授予管理后台的任何角色"),
    ("", "x", 401, "用户名或密码不正确"),
    ("a\x00b", "x", 401, "用户名或密码不正确"),
])
def test_refused_sign_ins_say_why_and_open_no_session(
        client: FlaskClient, username: str, password: str, status: int, message: str) -> None:
    resp = client.post("/admin/login", data={"username": username, "password": password,
                                              "csrf_token": csrf(client)})
    assert resp.status_code == status
    assert message in resp.get_data(as_text=True)
    assert client.get_cookie("idp_staff", path="/admin") is None


def test_sign_in_form_needs_its_csrf_token(client: FlaskClient) -> None:
    resp = client.post("/admin/login", data={"username": "alice", "password": ALICE.password})
    assert resp.status_code == 400
    assert client.get_cookie("idp_staff", path="/admin") is None


def test_pending_session_reaches_nothing_but_the_second_factor(client: FlaskClient) -> None:
    client.post("/admin/login", data={"username": "alice", "password": ALICE.password,
                                      "csrf_token": csrf(client)})
    for path in ("/admin/", "/admin/audit", "/admin/audit/export.csv"):
        resp = client.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/totp")


def test_sign_out_ends_the_session(client: FlaskClient, platform: Platform) -> None:
    page_sign_in(client, "alice", ALICE.password)
    token = csrf(client, "/admin/")
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302
    assert ("staff:logout", "success") in _actions(platform, "staff:alice")


def test_next_is_only_followed_inside_the_console(client: FlaskClient) -> None:
    token = csrf(client)
    resp = client.post("/admin/login", data={"username": "alice", "password": ALICE.password,
                                              "csrf_token": token, "next": "//evil.example/"})
    assert "evil" not in resp.headers["Location"]


class TestDirectoryDown:
    @pytest.fixture
    def settings_overrides(self, ldap_config: LdapConfig,
                           closed_port: int) -> dict[str, Any]:
        down = ldap_settings(ldap_config, role_map_json(ldap_config.group_base))
        return {**down, "ldap_url": f"ldap://127.0.0.1:{closed_port}"}

    def test_staff_get_a_clear_message(self, client: FlaskClient) -> None:
        resp = client.post("/admin/login", data={"username": "alice",
                                                  "password": ALICE.password,
                                                  "csrf_token": csrf(client)})
        assert resp.status_code == 503
        assert "暂时无法连接统一目录服务" in resp.get_data(as_text=True)

    def test_break_glass_signs_in_with_totp_and_is_audited(
            self, client: FlaskClient, platform: Platform, breakglass: str) -> None:
        page_sign_in(client, BREAKGLASS_USER, BREAKGLASS_PASSWORD)
        html = client.get("/admin/").get_data(as_text=True)
        assert "平台管理员" in html and "/admin/audit" in html
        actions = _actions(platform, "staff:breakglass")
        assert ("staff:breakglass:use", "success") in actions
        assert ("staff:totp:enrol", "success") in actions
