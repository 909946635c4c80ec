"""Counter services in the console pages: manual entry, the steps, the one-time password,
the print views (R-11, R-40, R-50)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.accounts.models import Person
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.counter_world import CARD, PHONE
from tests.admin.helpers import STAFF_PASSWORD, csrf, make_local_staff, page_sign_in

pytestmark = pytest.mark.usefixtures("counter_authorities")

MANUAL = {k: v for k, v in CARD.items() if k != "photo"}


@pytest.fixture
def clerk(app: Flask, platform: Platform) -> FlaskClient:
    client = app.test_client()
    page_sign_in(client, make_local_staff(platform, "clerk1", [Role.CLERK]), STAFF_PASSWORD)
    return client


def form(client: FlaskClient, path: str, data: dict[str, str]) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf(client, "/admin/counter")})


def manual_case(client: FlaskClient) -> str:
    resp = form(client, "/admin/counter/card", MANUAL)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    return resp.headers["Location"].rsplit("/", 1)[1]


def code(platform: Platform) -> str:
    text = platform.sms.messages(PHONE)[0].text  # type: ignore[attr-defined]
    return "".join(c for c in text if c.isdigit())[:6]


def test_the_menu_offers_the_counter_to_clerks_only(clerk: FlaskClient, app: Flask,
                                                    platform: Platform) -> None:
    assert "窗口业务" in clerk.get("/admin/").get_data(as_text=True)
    other = app.test_client()
    page_sign_in(other, make_local_staff(platform, "aud", [Role.AUDITOR]), STAFF_PASSWORD)
    assert "窗口业务" not in other.get("/admin/").get_data(as_text=True)


def test_manual_entry_to_an_account_with_a_one_time_password(clerk: FlaskClient,
                                                             platform: Platform) -> None:
    case = manual_case(clerk)
    page = clerk.get(f"/admin/counter/cases/{case}").get_data(as_text=True)
    assert "3502**********0157" in page and "350203198806300157" not in page
    assert "人口库核验一致" in page

    assert "已发送至 138****8004" in form(
        clerk, f"/admin/counter/cases/{case}/sms", {"phone": PHONE}).get_data(as_text=True)
    assert 'id="phone-verified"' in form(
        clerk, f"/admin/counter/cases/{case}/verify",
        {"code": code(platform)}).get_data(as_text=True)
    unsigned = form(clerk, f"/admin/counter/cases/{case}/activate",
                    {"version": platform.settings.agreement_version})
    assert unsigned.status_code == 422 and "书面服务协议" in unsigned.get_data(as_text=True)

    done = form(clerk, f"/admin/counter/cases/{case}/activate",
                {"signed": "yes", "version": platform.settings.agreement_version})
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    html = done.get_data(as_text=True)
    password = re.search(r'id="new-password">([^<]+)<', html).group(1)  # type: ignore[union-attr]
    assert "3502**********0157" in html and "密码仅显示这一次" in html
    with platform.db.session() as db:
        person = db.scalars(select(Person)).one()
        assert person.channel == "counter" and person.realname_level == 3
        assert person.must_change_password and platform.hasher.verify(
            person.password_hash or "", password).ok
        person_id = person.id
    # The case is gone: the password can never be shown again.
    assert clerk.get(f"/admin/counter/cases/{case}").status_code == 404

    printed = clerk.get(f"/admin/counter/persons/{person_id}/agreement")
    text = printed.get_data(as_text=True)
    assert printed.status_code == 200 and "counter_print.css" in text
    assert "3502**********0157" in text and "窗口书面签署" in text and "刘*" in text
    assert password not in text and "350203198806300157" not in text


def test_bad_manual_entry_names_the_field(clerk: FlaskClient) -> None:
    resp = form(clerk, "/admin/counter/card", {**MANUAL, "valid_until": "2020-01-01",
                                               "id_number": "350203198806300158"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="e-valid_until"' in html and "证件已过有效期" in html
    assert 'id="e-id_number"' in html


def test_registry_refusal_is_shown(clerk: FlaskClient, simulator) -> None:
    resp = form(clerk, "/admin/counter/card", {**MANUAL, "name": "张伟"})
    assert resp.status_code == 422 and "核验不一致" in resp.get_data(as_text=True)
    simulator.sim.modes.set("population_registry", "down")
    resp = form(clerk, "/admin/counter/card", MANUAL)
    assert resp.status_code == 503 and "暂时不可用" in resp.get_data(as_text=True)


def test_password_reset_page(clerk: FlaskClient, make_citizen, platform: Platform) -> None:
    citizen = make_citizen(id_number=CARD["id_number"], name="刘洋", phone=PHONE)
    case = manual_case(clerk)
    page = clerk.get(f"/admin/counter/cases/{case}").get_data(as_text=True)
    assert "升级为窗口实名" in page and 'id="reset-password"' in page
    done = form(clerk, f"/admin/counter/cases/{case}/password-reset", {})
    assert done.status_code == 200 and "密码已重置" in done.get_data(as_text=True)
    with platform.db.session() as db:
        assert db.get(Person, citizen.person_id).must_change_password  # type: ignore[union-attr]


def test_the_blank_agreement_prints_with_the_applicants_masked_details(
        clerk: FlaskClient, platform: Platform) -> None:
    case = manual_case(clerk)
    resp = clerk.get(f"/admin/counter/cases/{case}/agreement")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "申请人签名" in text
    assert "3502**********0157" in text and platform.settings.agreement_version in text


def test_an_unknown_case_is_404(clerk: FlaskClient) -> None:
    assert clerk.get("/admin/counter/cases/" + "z" * 24).status_code == 404
    assert clerk.get("/admin/counter/persons/999999/agreement?reason=补打协议"
                     ).status_code == 404
