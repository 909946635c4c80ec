"""Every console action, each role that must not do it: 403 and an audit record (issue 5).

Runs on the local staff directory so every role exists (the seeded OpenLDAP has no client
or platform administrators); the role check does not depend on where roles come from.
When an action is added to `admin_ui.permissions.ACTIONS`, add how to call it below —
`test_every_action_is_exercised` fails until you do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from admin_ui.permissions import ACTIONS
from idp.audit.models import AuditRecord
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.bans_helpers import prepare_banned, prepare_unban_requested
from tests.admin.helpers import api_token, csrf, make_local_staff, page_sign_in

_CASE = "c" * 24  # a counter case id; refusals come before the case is looked up
_CLIENT = "matrix-client"  # a department system's client_id (`_prepare_client`)


def _prepare_client(platform: Platform, _person: int) -> None:
    """A confidential client with a known client_id, for the client.* operations."""
    from sqlalchemy import update as sql_update

    from idp.oidc import clients
    from idp.oidc.models import Client

    with platform.db.session() as session:
        made, _secret = clients.create(session, platform.settings.secret_key, clients.ClientSpec(
            name="矩阵测试系统", redirect_uris=["https://rp.example/cb"]), actor="test")
        session.execute(sql_update(Client).where(Client.id == made.id).values(client_id=_CLIENT))


# action → (method, path, JSON body) through the API, and the console page doing it.
API_CALLS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "audit.search": ("GET", "/api/v1/admin/audit", None),
    "audit.export": ("GET", "/api/v1/admin/audit/export.csv", None),
    "audit.verify_chain": ("POST", "/api/v1/admin/audit/verify", None),
    "person.reveal_id_number": ("POST", "/api/v1/admin/persons/{person}/id-number",
                                {"reason": "核查投诉 2024-001"}),
    "account.view_history": ("GET", "/api/v1/admin/accounts/{person}", None),
    "account.ban": ("POST", "/api/v1/admin/accounts/{person}/ban",
                    {"reason": "冒用他人身份办理业务", "legal_basis": "《网络安全法》第二十四条"}),
    "account.request_unban": ("POST", "/api/v1/admin/accounts/{person}/unban-request",
                              {"reason": "核实为本人,申请恢复"}),
    "account.approve_unban": ("POST",
                              "/api/v1/admin/accounts/{person}/unban-request/approve", {}),
    "account.refuse_unban": ("POST", "/api/v1/admin/accounts/{person}/unban-request/refuse",
                             {"reason": "材料不全,暂不解封"}),
    "counter.card_read": ("GET", "/api/v1/admin/counter/cases", None),
    "counter.register": ("POST", f"/api/v1/admin/counter/cases/{_CASE}/activation",
                         {"agreement_signed": True, "agreement_version": "2024-01"}),
    "counter.password_reset": ("POST", f"/api/v1/admin/counter/cases/{_CASE}/password-reset",
                               None),
    "counter.print_agreement": ("GET", "/api/v1/admin/counter/persons/{person}/agreement"
                                "?reason=申请人补打协议", None),
    "counter.phone_change": ("POST", f"/api/v1/admin/counter/cases/{_CASE}/phone-change",
                             None),
    "counter.register_org": ("POST", f"/api/v1/admin/counter/cases/{_CASE}/org-registration",
                             {}),
    "counter.approve_phone_change": ("POST", f"/api/v1/admin/counter/phone-approvals/{_CASE}"
                                     "/approval", None),
    "counter.view_scan": ("GET", "/api/v1/admin/counter/scans/1", None),
    "staff.reset_totp": ("GET", "/api/v1/admin/staff", None),
    "client.view": ("GET", "/api/v1/admin/clients", None),
    "client.create": ("POST", "/api/v1/admin/clients",
                      {"name": "矩阵测试系统", "redirect_uris": ["https://rp.example/cb"]}),
    "client.update": ("PATCH", f"/api/v1/admin/clients/{_CLIENT}", {"min_realname_level": 2}),
    "client.rotate_secret": ("POST", f"/api/v1/admin/clients/{_CLIENT}/secret", None),
    "client.disable": ("POST", f"/api/v1/admin/clients/{_CLIENT}/disable", None),
    "client.enable": ("POST", f"/api/v1/admin/clients/{_CLIENT}/enable", None),
    "dashboard.view": ("GET", "/api/v1/admin/dashboard", None),
}
PAGE_CALLS: dict[str, tuple[str, str, dict[str, str] | None]] = {
    "console.home": ("GET", "/admin/", None),
    "audit.search": ("GET", "/admin/audit", None),
    "audit.export": ("GET", "/admin/audit/export.csv", None),
    "audit.verify_chain": ("POST", "/admin/audit/verify", {}),
    "person.reveal_id_number": ("POST", "/admin/persons/{person}/reveal",
                                {"reason": "核查投诉 2024-001"}),
    "account.view_history": ("GET", "/admin/accounts/{person}", None),
    "account.ban": ("POST", "/admin/accounts/{person}/ban",
                    {"reason": "冒用他人身份办理业务", "legal_basis": "《网络安全法》第二十四条"}),
    "account.request_unban": ("POST", "/admin/accounts/{person}/unban-request",
                              {"reason": "核实为本人,申请恢复"}),
    "account.approve_unban": ("POST", "/admin/accounts/{person}/unban-request/approve",
                              {"request_id": "1"}),
    "account.refuse_unban": ("POST", "/admin/accounts/{person}/unban-request/refuse",
                             {"request_id": "1", "reason": "材料不全,暂不解封"}),
    "counter.card_read": ("GET", "/admin/counter", None),
    "counter.register": ("POST", f"/admin/counter/cases/{_CASE}/activate", {"signed": "yes"}),
    "counter.password_reset": ("POST", f"/admin/counter/cases/{_CASE}/password-reset", {}),
    "counter.print_agreement": ("GET", "/admin/counter/persons/{person}/agreement"
                                "?reason=申请人补打协议", None),
    "counter.phone_change": ("POST", f"/admin/counter/cases/{_CASE}/phone-change", {}),
    "counter.register_org": ("POST", f"/admin/counter/cases/{_CASE}/org", {}),
    "counter.approve_phone_change": ("POST", f"/admin/counter/phone-approvals/{_CASE}/approve",
                                     {}),
    "counter.view_scan": ("GET", "/admin/counter/scans/1", None),
    "staff.reset_totp": ("GET", "/admin/staff", None),
    "client.view": ("GET", "/admin/clients", None),
    "client.create": ("POST", "/admin/clients", {"name": "矩阵测试系统",
                                                 "redirect_uris": "https://rp.example/cb"}),
    "client.update": ("POST", f"/admin/clients/{_CLIENT}/edit", {"min_realname_level": "2"}),
    "client.rotate_secret": ("POST", f"/admin/clients/{_CLIENT}/rotate-secret", {}),
    "client.disable": ("POST", f"/admin/clients/{_CLIENT}/disable", {"confirm": "yes"}),
    "client.enable": ("POST", f"/admin/clients/{_CLIENT}/enable", {}),
    "dashboard.view": ("GET", "/admin/dashboard", None),
}
PAGE_ONLY = {"console.home"}  # the menu page has no API twin
# action → state the person must be in for an allowed role's call to succeed.
PREPARE: dict[str, Callable[[Platform, int], object]] = {
    "account.request_unban": prepare_banned,
    "account.approve_unban": prepare_unban_requested,
    "account.refuse_unban": prepare_unban_requested,
    "client.update": _prepare_client,
    "client.rotate_secret": _prepare_client,
    "client.disable": _prepare_client,
    "client.enable": _prepare_client,
}
# Their allowed roles need a card read checked by the population registry (simulator):
# tested in tests/admin/test_counter_api.py, test_counter_phone.py and test_counter_org.py;
# opening a scan needs a registration's scan: tests/admin/test_counter_scans.py; approving a
# phone change needs a colleague's pending request: tests/admin/test_counter_phone_hardening.py.
ALLOWED_ELSEWHERE = {"counter.register", "counter.password_reset", "counter.phone_change",
                     "counter.register_org", "counter.view_scan",
                     "counter.approve_phone_change"}
FORBIDDEN = [(action, role) for action in sorted(ACTIONS) for role in Role
             if role not in ACTIONS[action].roles]
ALLOWED = [(action, role) for action in sorted(ACTIONS) for role in Role
           if role in ACTIONS[action].roles]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}  # the embedded local staff directory


def test_every_action_is_exercised() -> None:
    assert set(PAGE_CALLS) == set(ACTIONS)
    assert set(API_CALLS) | PAGE_ONLY == set(ACTIONS)
    assert FORBIDDEN, "the matrix must try something"


def _denials(platform: Platform, actor: str, action: str) -> int:
    with platform.db.session() as session:
        return len(session.scalars(select(AuditRecord).where(
            AuditRecord.actor == actor, AuditRecord.action == "admin:denied",
            AuditRecord.outcome == "denied", AuditRecord.target == action)).all())


def _person(make_citizen) -> int:  # type: ignore[no-untyped-def]
    return int(make_citizen().person_id)


@pytest.mark.parametrize(("action", "role"), [p for p in FORBIDDEN if p[0] in API_CALLS])
def test_api_refuses_each_role_not_allowed(app: Flask, platform: Platform, make_citizen,
                                           action: str, role: Role) -> None:
    client = app.test_client()
    user = make_local_staff(platform, f"u-{role.value}", [role])
    token = api_token(client, platform, user)
    method, path, body = API_CALLS[action]
    resp = client.open(path.format(person=_person(make_citizen)), method=method, json=body,
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403, resp.json
    assert resp.json["type"] == "urn:idp:problem:forbidden"  # type: ignore[index]
    assert "id_number" not in (resp.json or {})
    assert _denials(platform, f"staff:{user}", action) == 1


@pytest.mark.parametrize(("action", "role"), FORBIDDEN)
def test_console_refuses_each_role_not_allowed(app: Flask, platform: Platform, make_citizen,
                                               action: str, role: Role) -> None:
    client = app.test_client()
    user = make_local_staff(platform, f"p-{role.value}", [role])
    page_sign_in(client, user, "Staff-Passw0rd-2024")
    method, path, form = PAGE_CALLS[action]
    data = None if form is None else {**form, "csrf_token": csrf(client, "/admin/")}
    resp = client.open(path.format(person=_person(make_citizen)), method=method, data=data)
    assert resp.status_code == 403
    assert "无权访问" in resp.get_data(as_text=True)
    assert _denials(platform, f"staff:{user}", action) == 1


@pytest.mark.parametrize(("action", "role"), [p for p in ALLOWED if p[0] in API_CALLS
                                              and p[0] not in ALLOWED_ELSEWHERE])
def test_api_allows_each_role_allowed(app: Flask, platform: Platform, make_citizen,
                                      action: str, role: Role) -> None:
    client = app.test_client()
    user = make_local_staff(platform, f"a-{role.value}", [role])
    token = api_token(client, platform, user)
    method, path, body = API_CALLS[action]
    person = _person(make_citizen)
    if action in PREPARE:
        PREPARE[action](platform, person)
    resp = client.open(path.format(person=person), method=method, json=body,
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code in (200, 201), resp.json
    assert _denials(platform, f"staff:{user}", action) == 0
