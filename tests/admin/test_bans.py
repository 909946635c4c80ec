"""Ban and unban in the console pages (issue 5 item 4; R-51, R-52)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.accounts.models import Person
from idp.audit.models import AuditRecord
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.bans_helpers import prepare_banned, prepare_unban_requested
from tests.admin.helpers import STAFF_PASSWORD, csrf, make_local_staff, page_sign_in

REASON = "冒用他人身份办理业务"
BASIS = "《网络安全法》第二十四条"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}  # the embedded local staff directory


def _signed_in(app: Flask, platform: Platform, username: str, roles: list[Role],
               department: str = "市政务服务中心") -> FlaskClient:
    client = app.test_client()
    make_local_staff(platform, username, roles, department=department)
    page_sign_in(client, username, STAFF_PASSWORD)
    return client


def _post(client: FlaskClient, path: str, **form: str) -> Any:
    return client.post(path, data={**form, "csrf_token": csrf(client, "/admin/accounts")})


def _status(platform: Platform, person_id: int) -> str:
    with platform.db.session() as session:
        return session.get(Person, person_id).status  # type: ignore[union-attr]


def _audited(platform: Platform, action: str) -> list[AuditRecord]:
    with platform.db.session() as session:
        rows = list(session.scalars(select(AuditRecord).where(AuditRecord.action == action)))
        session.expunge_all()
        return rows


def test_manager_finds_and_bans_an_account(app, platform, citizen):
    manager = _signed_in(app, platform, "m1", [Role.MANAGER])
    html = manager.get("/admin/").get_data(as_text=True)
    assert "账号封禁管理" in html and "解封审批" not in html  # the menu follows the roles
    found = _post(manager, "/admin/accounts", identifier=citizen.phone)
    assert found.status_code == 302
    assert found.location.endswith(f"/admin/accounts/{citizen.person_id}")
    page = manager.get(found.location).get_data(as_text=True)
    assert citizen.id_number not in page and citizen.phone not in page
    assert citizen.id_number[:3] in page and 'id="ban"' in page

    done = _post(manager, f"/admin/accounts/{citizen.person_id}/ban", reason=REASON,
                 legal_basis=BASIS)
    assert done.status_code == 302 and "done=ban" in done.location and "sms=1" in done.location
    page = manager.get(done.location).get_data(as_text=True)
    assert "账号已封禁" in page and "已短信通知本人" in page
    assert re.search(r'id="account-status"[^>]*>已封禁<', page)
    assert REASON in page and BASIS in page and 'id="ban"' not in page
    assert 'id="request-unban"' in page
    assert _status(platform, citizen.person_id) == "banned"


@pytest.mark.parametrize(("form", "message"), [
    ({"reason": "", "legal_basis": BASIS}, "请填写原因"),
    ({"reason": "短", "legal_basis": BASIS}, "请填写原因"),
    ({"reason": REASON, "legal_basis": ""}, "请填写法律依据"),
    ({"reason": REASON, "legal_basis": "x" * 201}, "请填写法律依据"),
    ({"reason": "换行\u2028字符", "legal_basis": BASIS}, "请填写原因"),
])
def test_bad_ban_form_is_shown_again(app, platform, citizen, form, message):
    manager = _signed_in(app, platform, "m1", [Role.MANAGER])
    resp = _post(manager, f"/admin/accounts/{citizen.person_id}/ban", **form)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert _status(platform, citizen.person_id) == "active"
    assert _audited(platform, "admin:account:ban") == []


@pytest.mark.parametrize("identifier", ["", "1" * 65, "110101199003070011", "13700000000"])
def test_lookup_refusals(app, platform, citizen, identifier):
    clerk = _signed_in(app, platform, "c1", [Role.CLERK])
    resp = _post(clerk, "/admin/accounts", identifier=identifier)
    assert resp.status_code in (404, 422)
    assert 'role="alert"' in resp.get_data(as_text=True)
    assert [r.outcome for r in _audited(platform, "admin:account:lookup")] == ["failure"]


def test_ban_of_banned_account_is_a_conflict(app, platform, citizen):
    prepare_banned(platform, citizen.person_id)
    manager = _signed_in(app, platform, "m1", [Role.MANAGER])
    resp = _post(manager, f"/admin/accounts/{citizen.person_id}/ban", reason=REASON,
                 legal_basis=BASIS)
    assert resp.status_code == 409 and "该账号已被封禁" in resp.get_data(as_text=True)


def test_same_person_cannot_approve_their_own_request(app, platform, citizen):
    prepare_banned(platform, citizen.person_id)
    both = _signed_in(app, platform, "mh", [Role.MANAGER, Role.DEPARTMENT_HEAD])
    asked = _post(both, f"/admin/accounts/{citizen.person_id}/unban-request",
                  reason="核实为本人,申请恢复")
    assert asked.status_code == 302 and "done=request" in asked.location
    page = both.get(asked.location).get_data(as_text=True)
    request_id = re.search(r'name="request_id" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    resp = _post(both, f"/admin/accounts/{citizen.person_id}/unban-request/approve",
                 request_id=request_id)
    assert resp.status_code == 403 and "不能审批本人提出的申请" in resp.get_data(as_text=True)
    denied = _audited(platform, "admin:denied")
    assert [(r.actor, r.details["reason"]) for r in denied] == [("staff:mh", "own_request")]
    assert _status(platform, citizen.person_id) == "banned"


def test_head_sees_pending_requests_and_approves(app, platform, citizen):
    request_id = prepare_unban_requested(platform, citizen.person_id)
    other = _signed_in(app, platform, "h2", [Role.DEPARTMENT_HEAD], department="区政务服务中心")
    assert "暂无待审批" in other.get("/admin/unban-requests").get_data(as_text=True)
    refused = _post(other, f"/admin/accounts/{citizen.person_id}/unban-request/approve",
                    request_id=str(request_id))
    assert refused.status_code == 403 and "管理部门的负责人" in refused.get_data(as_text=True)

    head = _signed_in(app, platform, "h1", [Role.DEPARTMENT_HEAD])
    listing = head.get("/admin/unban-requests").get_data(as_text=True)
    assert f"/admin/accounts/{citizen.person_id}" in listing and "测试用解封申请" in listing
    assert citizen.id_number not in listing
    bare = _post(head, f"/admin/accounts/{citizen.person_id}/unban-request/refuse",
                 request_id=str(request_id))
    assert bare.status_code == 422 and "请填写原因" in bare.get_data(as_text=True)
    done = _post(head, f"/admin/accounts/{citizen.person_id}/unban-request/approve",
                 request_id=str(request_id))
    assert done.status_code == 302 and "done=approve" in done.location
    assert "已批准解封" in head.get(done.location).get_data(as_text=True)
    assert _status(platform, citizen.person_id) == "active"
    again = _post(head, f"/admin/accounts/{citizen.person_id}/unban-request/approve",
                  request_id=str(request_id))
    assert again.status_code == 409 and "已经审批" in again.get_data(as_text=True)
    missing = _post(head, f"/admin/accounts/{citizen.person_id}/unban-request/approve",
                    request_id="abc")
    assert missing.status_code == 409


def test_auditor_reads_history_without_forms(app, platform, citizen):
    prepare_unban_requested(platform, citizen.person_id)
    auditor = _signed_in(app, platform, "a1", [Role.AUDITOR])
    page = auditor.get(f"/admin/accounts/{citizen.person_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "测试用封禁原因" in html and "测试用解封申请" in html
    assert "<form" not in html.split('<main id="main"')[1].split("</main>")[0]
    assert auditor.get("/admin/accounts/999999").status_code == 404
