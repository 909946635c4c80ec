"""Changing the bound phone at the counter when the old number is lost (R-41, issue 5).

ID card read (population registry, simulator), SMS code to the NEW number read out by the
applicant, then the change: sessions end, the new number is told, history and audit.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.counter_world import CARD, Counter, typed_in_case, web_login
from tests.admin.helpers import STAFF_PASSWORD, audit, csrf, make_local_staff, page_sign_in

pytestmark = pytest.mark.usefixtures("counter_authorities")

OLD = "13800138004"
NEW = "13900139004"


def _holder(make_citizen) -> Any:  # type: ignore[no-untyped-def]
    return make_citizen(id_number=CARD["id_number"], name="刘洋", phone=OLD,
                        password="Liu-Yang-Passw0rd")


def _phone(platform: Platform, person_id: int) -> str | None:
    with platform.db.session() as db:
        accounts = Accounts(db, platform.protector, platform.hasher)
        return accounts.phone(db.get(Person, person_id))  # type: ignore[arg-type]


def test_lost_phone_is_replaced_sessions_end_and_history_records_it(
        clerk: Counter, make_citizen, client, platform: Platform) -> None:
    citizen = _holder(make_citizen)
    assert web_login(client, {"identifier": citizen.id_number,
                              "password": citizen.password}).status_code == 302
    assert client.get("/account").status_code == 200
    case = clerk.verified(NEW)
    resp = clerk.post(f"/api/v1/admin/counter/cases/{case}/phone-change")
    assert resp.status_code == 200, resp.json
    assert resp.json == {"person_id": citizen.person_id, "account_name": "3502**********0157",
                         "phone": "139****9004", "sessions_ended": True}
    assert _phone(platform, citizen.person_id) == NEW
    assert client.get("/account").status_code == 302  # whoever had the old phone is out
    [notice] = [m for m in platform.sms.messages(NEW)  # type: ignore[attr-defined]
                if m.template == "phone_changed"]
    assert "139****9004" in notice.text
    # Lost or not, the old number is told: the hall and the hotline, no personal numbers.
    [told] = platform.sms.messages(OLD)  # type: ignore[attr-defined]
    assert told.template == "phone_changed_counter"
    assert "市政务服务中心" in told.text and "12345" in told.text
    assert "139" not in told.text and "0157" not in told.text and "刘" not in told.text
    [change] = [r for r in audit(platform, "account:phone:change") if r.outcome == "success"]
    assert change.target == citizen.sub and change.details == {
        "method": "counter", "phone": "138****8004", "new_phone": "139****9004"}
    [console] = audit(platform, "admin:counter:phone_change")
    assert console.actor == clerk.actor and OLD not in str(console.details)
    assert CARD["id_number"] not in str(console.details)
    # The case is spent: a second change needs a new card read.
    again = clerk.post(f"/api/v1/admin/counter/cases/{case}/phone-change")
    assert again.status_code == 404


def _no_verification(c: Counter) -> str:
    return c.case()


def _sent_not_verified(c: Counter) -> str:
    case = c.case()
    assert c.post(f"/api/v1/admin/counter/cases/{case}/sms", {"phone": NEW}).status_code == 200
    return case


@pytest.mark.parametrize(("prepare", "holder", "status", "problem"), [
    (_no_verification, True, 409, "phone_not_verified"),
    (_sent_not_verified, True, 409, "phone_not_verified"),
    (lambda c: c.verified(NEW), False, 409, "no_account"),
    (lambda c: c.verified(OLD), True, 409, "same_phone"),
])
def test_refusals_change_nothing(clerk: Counter, make_citizen, platform: Platform,
                                 prepare, holder: bool, status: int, problem: str) -> None:
    citizen = _holder(make_citizen) if holder else None
    case = prepare(clerk)
    resp = clerk.post(f"/api/v1/admin/counter/cases/{case}/phone-change")
    assert resp.status_code == status and resp.json["type"] == f"urn:idp:problem:{problem}"
    if citizen is not None:
        assert _phone(platform, citizen.person_id) == OLD
    assert audit(platform, "admin:counter:phone_change") == []


def test_a_number_bound_to_someone_else_is_refused(clerk: Counter,
                                                   make_citizen) -> None:
    _holder(make_citizen)
    make_citizen(id_number="110105194912310029", phone=NEW)
    resp = clerk.post(f"/api/v1/admin/counter/cases/{clerk.case()}/sms", {"phone": NEW})
    assert resp.status_code == 409 and resp.json["type"] == "urn:idp:problem:phone_taken"


def test_a_banned_account_keeps_its_phone(clerk: Counter, make_citizen,
                                          platform: Platform) -> None:
    citizen = _holder(make_citizen)
    with platform.db.session() as db:
        db.get(Person, citizen.person_id).status = "banned"  # type: ignore[union-attr]
    resp = clerk.post(f"/api/v1/admin/counter/cases/{clerk.verified(NEW)}/phone-change")
    assert resp.status_code == 409 and resp.json["type"] == "urn:idp:problem:account_banned"
    assert _phone(platform, citizen.person_id) == OLD


def test_phone_change_through_the_console(app: Flask, platform: Platform,
                                          make_citizen) -> None:
    citizen = _holder(make_citizen)
    browser = app.test_client()
    token, case_page = typed_in_case(browser, platform, "clerk2")
    html = browser.get(case_page).get_data(as_text=True)
    assert 'id="change-phone"' in html and "disabled" in html.split('id="change-phone"')[1][:40]
    browser.post(f"{case_page}/sms", data={"phone": NEW, "csrf_token": token})
    text = platform.sms.messages(NEW)[0].text  # type: ignore[attr-defined]
    code = "".join(c for c in text if c.isdigit())[:6]
    browser.post(f"{case_page}/verify", data={"code": code, "csrf_token": token})
    # Typed-in card details: the change waits for a colleague of the same hall.
    held = browser.post(f"{case_page}/phone-change", data={"csrf_token": token})
    assert held.status_code == 202 and "已提交复核" in held.get_data(as_text=True)
    assert _phone(platform, citizen.person_id) == OLD
    colleague = app.test_client()
    make_local_staff(platform, "manager2", [Role.MANAGER])
    page_sign_in(colleague, "manager2", STAFF_PASSWORD)
    listing = colleague.get("/admin/counter/phone-approvals").get_data(as_text=True)
    assert "139****9004" in listing and NEW not in listing
    assert CARD["id_number"] not in listing
    rid = listing.split("/admin/counter/phone-approvals/")[1].split("/approve")[0]
    done = colleague.post(f"/admin/counter/phone-approvals/{rid}/approve",
                          data={"csrf_token": csrf(colleague, "/admin/counter/phone-approvals")})
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    assert "绑定手机已更换" in html and "139****9004" in html and NEW not in html
    assert _phone(platform, citizen.person_id) == NEW
