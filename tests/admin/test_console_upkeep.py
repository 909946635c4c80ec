"""Staff authenticator reset, re-enabling a department system, the agreement PDF (issue 5).

Local staff directory (every role exists there). The agreement PDF (R-50) is parsed with
pypdf: it must be a real PDF holding the masked ID number and never the full one.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from admin_ui.models import StaffTotpCredential
from idp.oidc import clients
from idp.platform import Platform
from idp.realname import agreements
from idp.staff.directory import Role
from tests.admin.helpers import (
    STAFF_PASSWORD,
    api_token,
    audit,
    csrf,
    enrol_directly,
    make_local_staff,
    member_id,
    page_sign_in,
)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}  # the embedded local staff directory


def _bearer(client: FlaskClient, platform: Platform, username: str, role: Role) -> dict:
    make_local_staff(platform, username, [role])
    return {"Authorization": f"Bearer {api_token(client, platform, username)}"}


# -- staff authenticator reset -----------------------------------------------------------------

def test_admin_resets_a_clerks_authenticator_and_the_clerk_enrols_again(
        app: Flask, platform: Platform) -> None:
    client = app.test_client()
    admin = _bearer(client, platform, "root1", Role.PLATFORM_ADMIN)
    make_local_staff(platform, "clerk1", [Role.CLERK])
    old = enrol_directly(platform, "clerk1", STAFF_PASSWORD)
    member = member_id(platform, "clerk1")
    clerk = {"Authorization": "Bearer " + client.post("/api/v1/admin/session", json={
        "username": "clerk1", "password": STAFF_PASSWORD, "totp": old.code()}).json["token"]}
    assert client.get("/api/v1/admin/counter/cases", headers=clerk).status_code == 200

    listed = client.get("/api/v1/admin/staff", headers=admin).json["staff"]
    assert {"username": "clerk1", "totp_enrolled": True}.items() <= \
        next(m for m in listed if m["username"] == "clerk1").items()
    resp = client.post(f"/api/v1/admin/staff/{member}/totp-reset", headers=admin)
    assert resp.status_code == 200 and resp.json["totp_enrolled"] is False
    assert resp.headers["Cache-Control"] == "no-store"
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", resp.json["enrolment_code"])
    with platform.db.session() as session:
        assert session.scalars(select(StaffTotpCredential).where(
            StaffTotpCredential.staff_member_id == member)).first() is None
    [record] = audit(platform, "admin:staff:totp_reset")
    assert record.actor == "staff:root1" and record.target == "staff:clerk1"
    assert record.details["had_authenticator"] is True
    # Whoever holds the lost device may be signed in: the clerk's sessions end at once,
    # the administrator's own stay.
    assert client.get("/api/v1/admin/counter/cases", headers=clerk).status_code == 401
    assert client.get("/api/v1/admin/staff", headers=admin).status_code == 200

    # The old authenticator no longer opens an API session; the console asks to enrol.
    resp = client.post("/api/v1/admin/session", json={
        "username": "clerk1", "password": STAFF_PASSWORD, "totp": old.replay()})
    assert resp.status_code == 403 and resp.json["type"].endswith("totp_enrolment_required")
    # The console asks for the one-time enrolment code before showing any new secret
    # (tests/admin/test_staff_reset_hardening.py signs in with it).
    browser = app.test_client()
    browser.post("/admin/login", data={"username": "clerk1", "password": STAFF_PASSWORD,
                                       "csrf_token": csrf(browser)})
    html = browser.get("/admin/totp").get_data(as_text=True)
    assert "启用码" in html and 'id="totp-secret"' not in html


def test_nobody_resets_their_own_authenticator(app: Flask, platform: Platform) -> None:
    client = app.test_client()
    admin = _bearer(client, platform, "root1", Role.PLATFORM_ADMIN)
    own = member_id(platform, "root1")
    resp = client.post(f"/api/v1/admin/staff/{own}/totp-reset", headers=admin)
    assert resp.status_code == 403 and resp.json["type"] == "urn:idp:problem:own_account"
    [denied] = [r for r in audit(platform, "admin:denied")
                if r.details.get("reason") == "own_account"]
    assert denied.target == "staff.reset_totp"
    [refused] = audit(platform, "admin:staff:totp_reset")
    assert refused.outcome == "refused" and refused.details["reason"] == "own_account"


@pytest.mark.parametrize("member", ["999999", "0"])
def test_reset_of_an_unknown_member_is_404(app: Flask, platform: Platform, member: str) -> None:
    client = app.test_client()
    admin = _bearer(client, platform, "root1", Role.PLATFORM_ADMIN)
    resp = client.post(f"/api/v1/admin/staff/{member}/totp-reset", headers=admin)
    assert resp.status_code == 404 and resp.json["type"] == "urn:idp:problem:not_found"


def test_reset_through_the_console_page(app: Flask, platform: Platform) -> None:
    make_local_staff(platform, "root1", [Role.PLATFORM_ADMIN])
    make_local_staff(platform, "clerk1", [Role.CLERK])
    enrol_directly(platform, "clerk1", STAFF_PASSWORD)
    browser = app.test_client()
    page_sign_in(browser, "root1", STAFF_PASSWORD)
    html = browser.get("/admin/staff").get_data(as_text=True)
    assert 'id="reset-clerk1"' in html and 'id="reset-root1"' not in html  # not one's own
    token = csrf(browser, "/admin/staff")
    resp = browser.post(f"/admin/staff/{member_id(platform, 'clerk1')}/reset-totp",
                        data={"csrf_token": token})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    shown = resp.get_data(as_text=True)
    assert "已重置 clerk1" in shown and 'id="enrolment-code"' in shown
    own = browser.post(f"/admin/staff/{member_id(platform, 'root1')}/reset-totp",
                       data={"csrf_token": token})
    assert own.status_code == 403 and "不能对本人的账号执行此操作" in own.get_data(as_text=True)
    no_csrf = browser.post(f"/admin/staff/{member_id(platform, 'clerk1')}/reset-totp")
    assert no_csrf.status_code in (400, 403)


# -- re-enabling a department system -----------------------------------------------------------

def _disabled_client(platform: Platform) -> str:
    with platform.db.session() as session:
        made, _secret = clients.create(session, platform.settings.secret_key, clients.ClientSpec(
            name="不动产登记系统", redirect_uris=["https://rp.example/cb"]), actor="test")
        clients.disable(session, made.client_id, actor="test")
        return made.client_id


def test_a_disabled_system_is_enabled_again(app: Flask, platform: Platform) -> None:
    client = app.test_client()
    admin = _bearer(client, platform, "apps1", Role.CLIENT_ADMIN)
    client_id = _disabled_client(platform)
    authorize = f"/authorize?response_type=code&client_id={client_id}&redirect_uri=" \
                "https://rp.example/cb&scope=openid&state=s&nonce=n"
    assert client.get(authorize).status_code == 400  # disabled: no login through it
    resp = client.post(f"/api/v1/admin/clients/{client_id}/enable", headers=admin)
    assert resp.status_code == 200 and resp.json["client"]["disabled"] is False
    assert client.get(authorize).status_code in (200, 302)  # accepted again
    again = client.post(f"/api/v1/admin/clients/{client_id}/enable", headers=admin)
    assert again.status_code == 200  # idempotent, audited once
    [record] = audit(platform, "oidc:client:enable")
    assert record.actor == "staff:apps1" and record.target == f"client:{client_id}"
    assert client.post("/api/v1/admin/clients/nope/enable",
                       headers=admin).status_code == 404


def test_enable_through_the_console_page(app: Flask, platform: Platform) -> None:
    make_local_staff(platform, "apps1", [Role.CLIENT_ADMIN])
    client_id = _disabled_client(platform)
    browser = app.test_client()
    page_sign_in(browser, "apps1", STAFF_PASSWORD)
    page = f"/admin/clients/{client_id}"
    assert 'id="enable-button"' in browser.get(page).get_data(as_text=True)
    resp = browser.post(f"{page}/enable", data={"csrf_token": csrf(browser, page)})
    assert resp.status_code == 302
    html = browser.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="enabled-note"' in html and 'id="enable-button"' not in html


# -- the agreement as a PDF (R-50) -------------------------------------------------------------

def _signed_citizen(platform: Platform, make_citizen) -> Any:  # type: ignore[no-untyped-def]
    person = make_citizen(realname_level=3)
    with platform.db.session() as session:
        agreements.accept(session, person.person_id,
                          agreements.load(platform.settings.agreement_version), "counter")
    return person


def _text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 1
    return "".join(page.extract_text() for page in reader.pages)


def test_agreement_pdf_holds_the_masked_number_only(app: Flask, platform: Platform,
                                                    make_citizen) -> None:
    person = _signed_citizen(platform, make_citizen)
    client = app.test_client()
    clerk = _bearer(client, platform, "clerk1", Role.CLERK)
    resp = client.get(f"/api/v1/admin/counter/persons/{person.person_id}/agreement.pdf"
                      "?reason=申请人补打协议", headers=clerk)
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    text = _text(resp.data)
    assert "1101**********0029" in text and platform.settings.agreement_version in text
    for secret in (person.id_number, person.phone, person.name):
        assert secret not in text and secret.encode() not in resp.data
    assert client.get("/api/v1/admin/counter/persons/999999/agreement.pdf?reason=补打协议",
                      headers=clerk).status_code == 404


def test_agreement_pdf_from_the_print_view(app: Flask, platform: Platform,
                                           make_citizen) -> None:
    person = _signed_citizen(platform, make_citizen)
    make_local_staff(platform, "clerk1", [Role.CLERK])
    browser = app.test_client()
    page_sign_in(browser, "clerk1", STAFF_PASSWORD)
    html = browser.get(f"/admin/counter/persons/{person.person_id}/agreement"
                       "?reason=申请人补打协议").get_data(as_text=True)
    assert 'id="agreement-pdf"' in html
    pdf_link = html.split('id="agreement-pdf" href="')[1].split('"')[0].replace("&amp;", "&")
    assert "reason=" in pdf_link  # the reprint's reason goes along
    resp = browser.get(pdf_link)
    assert resp.status_code == 200 and "1101**********0029" in _text(resp.data)
