"""Every console action, each role that must not do it: 403 and an audit record (issue 5).

Runs on the local staff directory so every role exists (the seeded OpenLDAP has no client
or platform administrators); the role check does not depend on where roles come from.
When an action is added to `admin_ui.permissions.ACTIONS`, add how to call it below —
`test_every_action_is_exercised` fails until you do.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from admin_ui.permissions import ACTIONS
from idp.audit.models import AuditRecord
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.helpers import api_token, csrf, make_local_staff, page_sign_in

# action → (method, path, JSON body) through the API, and the console page doing it.
API_CALLS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "audit.search": ("GET", "/api/v1/admin/audit", None),
    "audit.export": ("GET", "/api/v1/admin/audit/export.csv", None),
    "audit.verify_chain": ("POST", "/api/v1/admin/audit/verify", None),
    "person.reveal_id_number": ("POST", "/api/v1/admin/persons/{person}/id-number",
                                {"reason": "核查投诉 2024-001"}),
}
PAGE_CALLS: dict[str, tuple[str, str, dict[str, str] | None]] = {
    "console.home": ("GET", "/admin/", None),
    "audit.search": ("GET", "/admin/audit", None),
    "audit.export": ("GET", "/admin/audit/export.csv", None),
    "audit.verify_chain": ("POST", "/admin/audit/verify", {}),
    "person.reveal_id_number": ("POST", "/admin/persons/{person}/reveal",
                                {"reason": "核查投诉 2024-001"}),
}
PAGE_ONLY = {"console.home"}  # the menu page has no API twin
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


@pytest.mark.parametrize(("action", "role"), [p for p in ALLOWED if p[0] in API_CALLS])
def test_api_allows_each_role_allowed(app: Flask, platform: Platform, make_citizen,
                                      action: str, role: Role) -> None:
    client = app.test_client()
    user = make_local_staff(platform, f"a-{role.value}", [role])
    token = api_token(client, platform, user)
    method, path, body = API_CALLS[action]
    resp = client.open(path.format(person=_person(make_citizen)), method=method, json=body,
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    assert _denials(platform, f"staff:{user}", action) == 0
