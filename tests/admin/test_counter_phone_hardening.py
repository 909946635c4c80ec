"""Counter phone change after the security review (issue 5, R-41).

A typed-in card needs a colleague's sign-off (never the asker, same hall); after a counter
change, SMS login and SMS password recovery stay closed for the cooling-off period.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from admin_ui.counter_phone import PhoneDesk
from idp.accounts.counter_card import parse_card
from idp.accounts.sms_codes import SmsCodes
from idp.platform import Platform
from idp.staff.directory import Role
from idp.staff.models import StaffMember
from tests.admin.counter_world import CARD, Counter, web_login
from tests.admin.helpers import api_token, audit, make_local_staff
from tests.admin.test_counter_phone import NEW, OLD, _holder, _phone
from tests.web.conftest import post as web_post

pytestmark = pytest.mark.usefixtures("counter_authorities")

APPROVALS = "/api/v1/admin/counter/phone-approvals"


def _manual_case(c: Counter) -> str:
    """A case from the console's manual entry (no chip read), SMS to NEW verified."""
    with c.platform.db.session() as db:
        member = db.scalars(select(StaffMember).where(
            StaffMember.username == c.actor.removeprefix("staff:"))).one().id
    desk = PhoneDesk(c.platform, member_id=member, actor=c.actor, address="198.51.100.7")
    case = desk.read_card(parse_card({k: v for k, v in CARD.items() if k != "photo"},
                                     source="manual")).id
    assert c.post(f"/api/v1/admin/counter/cases/{case}/sms", {"phone": NEW}).status_code == 200
    resp = c.post(f"/api/v1/admin/counter/cases/{case}/sms-verification", {"code": c.code(NEW)})
    assert resp.status_code == 200, resp.json
    return case


def _staff(app: Flask, platform: Platform, name: str, role: Role,
           department: str = "市政务服务中心") -> dict[str, str]:
    client = app.test_client()
    make_local_staff(platform, name, [role], department=department)
    return {"Authorization": f"Bearer {api_token(client, platform, name)}"}


def _held(clerk: Counter) -> str:
    resp = clerk.post(f"/api/v1/admin/counter/cases/{_manual_case(clerk)}/phone-change")
    assert resp.status_code == 202, resp.json
    assert resp.json["status"] == "pending_approval"
    approval = resp.json["approval"]
    assert approval["phone"] == "139****9004" and approval["id_number"] == "3502**********0157"
    return str(approval["id"])


def test_reader_case_changes_at_once_manual_case_waits_for_a_colleague(
        app: Flask, clerk: Counter, make_citizen, platform: Platform) -> None:
    citizen = _holder(make_citizen)
    rid = _held(clerk)
    assert _phone(platform, citizen.person_id) == OLD and platform.sms.messages(OLD) == []
    [asked] = audit(platform, "admin:counter:phone_change_request")
    assert asked.actor == clerk.actor and asked.details["source"] == "manual"
    manager = _staff(app, platform, "mgr1", Role.MANAGER)
    listed = app.test_client().get(APPROVALS, headers=manager).json["approvals"]
    assert [a["id"] for a in listed] == [rid] and NEW not in str(listed)
    done = app.test_client().post(f"{APPROVALS}/{rid}/approval", headers=manager)
    assert done.status_code == 200, done.json
    assert done.json["phone"] == "139****9004" and _phone(platform, citizen.person_id) == NEW
    [change] = audit(platform, "admin:counter:phone_change")
    assert change.actor == clerk.actor and change.details["approved_by"] == "staff:mgr1"
    [signed] = audit(platform, "admin:counter:phone_change_approve")
    assert signed.actor == "staff:mgr1" and signed.details["requested_by"] == clerk.actor
    again = app.test_client().post(f"{APPROVALS}/{rid}/approval", headers=manager)
    assert again.status_code == 404  # spent
    # The asker's own listing never shows their request (it is not theirs to decide).
    assert clerk.client.get(APPROVALS, headers=clerk.headers).json == {"approvals": []}


@pytest.mark.parametrize(("who", "status", "problem"), [
    ("asker", 403, "own_request"),
    ("other_hall", 403, "other_hall"),
    ("auditor", 403, "forbidden"),
])
def test_refused_sign_offs_change_nothing_and_are_audited(
        app: Flask, clerk: Counter, make_citizen, platform: Platform,
        who: str, status: int, problem: str) -> None:
    citizen = _holder(make_citizen)
    rid = _held(clerk)
    headers = {"asker": clerk.headers,
               "other_hall": _staff(app, platform, "clerk9", Role.CLERK, "区政务服务中心"),
               "auditor": _staff(app, platform, "aud1", Role.AUDITOR)}[who]
    resp = app.test_client().post(f"{APPROVALS}/{rid}/approval", headers=headers)
    assert resp.status_code == status and resp.json["type"] == f"urn:idp:problem:{problem}"
    assert _phone(platform, citizen.person_id) == OLD
    denied = [r for r in audit(platform, "admin:denied")
              if r.target == "counter.approve_phone_change"]
    assert len(denied) == 1 and denied[0].details["reason"] in (problem, "role")
    # Still pending: a proper colleague can approve it.
    ok = app.test_client().post(f"{APPROVALS}/{rid}/approval",
                                headers=_staff(app, platform, "clerk2", Role.CLERK))
    assert ok.status_code == 200, ok.json


@pytest.mark.parametrize("rid", ["x" * 24, "short", "%00" * 8])
def test_unknown_sign_off_is_404(app: Flask, platform: Platform, rid: str) -> None:
    manager = _staff(app, platform, "mgr1", Role.MANAGER)
    resp = app.test_client().post(f"{APPROVALS}/{rid}/approval", headers=manager)
    assert resp.status_code == 404 and resp.json["type"].endswith("approval_not_found")


def _interval_passed(platform: Platform, phone: str) -> None:
    """The counter code was just sent to ``phone``: skip the per-phone send interval."""
    codes = SmsCodes(platform.store, platform.limiter, platform.sms, platform.settings)
    platform.limiter.clear(codes._interval, codes._phone_key(phone))


def _sms_login(client, platform: Platform, phone: str) -> Any:  # type: ignore[no-untyped-def]
    _interval_passed(platform, phone)
    assert web_post(client, "/login/sms", {"phone": phone, "action": "send"}).status_code == 200
    text = platform.sms.messages(phone)[0].text  # type: ignore[attr-defined]
    code = "".join(ch for ch in text if ch.isdigit())[:6]
    return web_post(client, "/login/sms", {"phone": phone, "code": code, "action": "login"})


def _api_recovery(client, platform: Platform, phone: str) -> Any:  # type: ignore[no-untyped-def]
    _interval_passed(platform, phone)
    started = client.post("/api/v1/password-recovery", json={"identifier": phone})
    assert started.status_code == 202
    text = [m for m in platform.sms.messages(phone)  # type: ignore[attr-defined]
            if m.template == "recovery_code"][0].text
    code = "".join(ch for ch in text if ch.isdigit())[:6]
    return client.post("/api/v1/password-recovery/confirm", json={
        "ticket": started.json["ticket"], "code": code, "new_password": "N3w-Passw0rd!x"})


def _changed_at_counter(clerk: Counter, make_citizen) -> Any:  # type: ignore[no-untyped-def]
    citizen = _holder(make_citizen)
    case = clerk.verified(NEW)
    assert clerk.post(f"/api/v1/admin/counter/cases/{case}/phone-change").status_code == 200
    return citizen


def test_sms_login_is_closed_while_cooling_off(app: Flask, clerk: Counter,
                                               make_citizen, platform: Platform) -> None:
    citizen = _changed_at_counter(clerk, make_citizen)
    resp = _sms_login(app.test_client(), platform, NEW)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 403 and "刚在政务服务大厅更换" in html
    refused = [r for r in audit(platform, "account:login:failure")
               if r.details.get("reason") == "phone_cooling_off"]
    assert len(refused) == 1 and refused[0].target == citizen.sub
    # The password still works: the owner is not locked out.
    assert web_login(app.test_client(), {"identifier": citizen.id_number,
                                         "password": citizen.password}).status_code == 302


def test_sms_recovery_is_closed_while_cooling_off(app: Flask, clerk: Counter,
                                                  make_citizen, platform: Platform) -> None:
    citizen = _changed_at_counter(clerk, make_citizen)
    resp = _api_recovery(app.test_client(), platform, NEW)
    assert resp.status_code == 403, resp.json
    assert resp.json["type"] == "urn:idp:problem:phone_cooling_off"
    assert resp.json["retry_after"] > 23 * 3600
    refused = [r for r in audit(platform, "account:password:reset")
               if r.details.get("reason") == "phone_cooling_off"]
    assert len(refused) == 1 and refused[0].target == citizen.sub


class TestAfterTheCoolingOff:
    @pytest.fixture
    def settings_overrides(self, settings_overrides: dict[str, Any]
                           ) -> dict[str, Any]:
        return {**settings_overrides, "counter_phone_cooloff_seconds": 0}

    def test_sms_login_and_recovery_work_again(self, app: Flask, clerk: Counter,
                                               make_citizen, platform: Platform) -> None:
        _changed_at_counter(clerk, make_citizen)
        assert _sms_login(app.test_client(), platform, NEW).status_code == 302
        assert _api_recovery(app.test_client(), platform, NEW).status_code == 204
