"""A staff authenticator reset is not trust-on-first-use (issue 5 review item 2, R-70).

The reset gives the administrator a one-time enrolment code; the staff member's next
sign-in must present it before a new secret is shown. Platform administrators are not
reset by a single administrator. Every refusal is audited.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from admin_ui.models import StaffTotpReset
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.helpers import (
    STAFF_PASSWORD,
    Authenticator,
    api_token,
    audit,
    csrf,
    enrol_directly,
    make_local_staff,
    member_id,
)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}  # the embedded local staff directory


def _reset(app: Flask, platform: Platform, target: str = "clerk1") -> str:
    """root1 resets ``target``'s authenticator; the enrolment code shown once."""
    client = app.test_client()
    make_local_staff(platform, "root1", [Role.PLATFORM_ADMIN])
    admin = {"Authorization": f"Bearer {api_token(client, platform, 'root1')}"}
    make_local_staff(platform, target, [Role.CLERK])
    enrol_directly(platform, target, STAFF_PASSWORD)
    resp = client.post(f"/api/v1/admin/staff/{member_id(platform, target)}/totp-reset",
                       headers=admin)
    assert resp.status_code == 200, resp.json
    return str(resp.json["enrolment_code"])


def _password(browser: FlaskClient, username: str = "clerk1") -> str:
    token = csrf(browser)
    resp = browser.post("/admin/login", data={"username": username,
                                              "password": STAFF_PASSWORD, "csrf_token": token})
    assert resp.status_code == 302 and "/admin/totp" in resp.headers["Location"]
    return token


def test_the_stolen_password_alone_cannot_enrol(app: Flask, platform: Platform) -> None:
    code = _reset(app, platform)
    browser = app.test_client()
    token = _password(browser)
    page = browser.get("/admin/totp").get_data(as_text=True)
    assert "启用码" in page and 'id="totp-secret"' not in page
    # Skipping the code step: posting a TOTP-shaped code does not enrol anything.
    wrong = browser.post("/admin/totp", data={"code": "123456", "csrf_token": token})
    assert wrong.status_code == 401 and "启用码不正确" in wrong.get_data(as_text=True)
    assert 'id="totp-secret"' not in wrong.get_data(as_text=True)
    assert browser.get("/admin/").status_code == 302  # still not signed in
    # The right code (any case, with or without hyphens) opens enrolment, then TOTP.
    ok = browser.post("/admin/totp", data={"code": code.lower().replace("-", " "),
                                           "csrf_token": token})
    assert ok.status_code == 302 and "/admin/totp" in ok.headers["Location"]
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<',
                       browser.get("/admin/totp").get_data(as_text=True))
    assert secret is not None
    device = Authenticator(secret.group(1))
    done = browser.post("/admin/totp", data={"code": device.code(), "csrf_token": token})
    assert done.status_code == 302 and browser.get("/admin/").status_code == 200
    outcomes = [(r.outcome, r.details.get("reason")) for r in
                audit(platform, "staff:totp:enrol_code")]
    assert outcomes == [("failure", "wrong"), ("success", None)]
    with platform.db.session() as session:  # the code is spent
        assert session.scalars(select(StaffTotpReset)).first() is None


def test_a_half_finished_enrolment_does_not_open_the_next_sign_in(
        app: Flask, platform: Platform) -> None:
    code = _reset(app, platform)
    first = app.test_client()
    token = _password(first)
    assert first.post("/admin/totp", data={"code": code, "csrf_token": token}
                      ).status_code == 302  # code right, but the authenticator never confirmed
    second = app.test_client()
    _password(second)
    page = second.get("/admin/totp").get_data(as_text=True)
    assert "启用码" in page and 'id="totp-secret"' not in page


def test_an_expired_code_is_refused(app: Flask, platform: Platform) -> None:
    code = _reset(app, platform)
    with platform.db.session() as session:
        session.execute(update(StaffTotpReset).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    browser = app.test_client()
    token = _password(browser)
    resp = browser.post("/admin/totp", data={"code": code, "csrf_token": token})
    assert resp.status_code == 401 and "启用码已过期" in resp.get_data(as_text=True)
    [failed] = audit(platform, "staff:totp:enrol_code")
    assert failed.details["reason"] == "expired"


def test_wrong_codes_lock_like_totp(app: Flask, platform: Platform) -> None:
    _reset(app, platform)
    browser = app.test_client()
    token = _password(browser)
    for _ in range(platform.settings.staff_max_failures):
        browser.post("/admin/totp", data={"code": "AAAA-BBBB-CCCC", "csrf_token": token})
    locked = browser.post("/admin/totp", data={"code": "AAAA-BBBB-CCCC", "csrf_token": token})
    assert locked.status_code == 302 and "/admin/login" in locked.headers["Location"]


@pytest.mark.parametrize(("target", "roles", "status", "problem"), [
    ("root2", [Role.PLATFORM_ADMIN], 403, "target_is_admin"),
    ("mixed", [Role.CLERK, Role.PLATFORM_ADMIN], 403, "target_is_admin"),
    ("self", None, 403, "own_account"),
    ("ghost", None, 404, "not_found"),
])
def test_refused_resets_are_audited(app: Flask, platform: Platform, target: str,
                                    roles: list[Role] | None, status: int,
                                    problem: str) -> None:
    client = app.test_client()
    make_local_staff(platform, "root1", [Role.PLATFORM_ADMIN])
    admin = {"Authorization": f"Bearer {api_token(client, platform, 'root1')}"}
    if roles is not None:
        make_local_staff(platform, target, roles)
        enrol_directly(platform, target, STAFF_PASSWORD)
    member = {"self": member_id(platform, "root1"), "ghost": 999999}.get(target) or \
        member_id(platform, target)
    resp = client.post(f"/api/v1/admin/staff/{member}/totp-reset", headers=admin)
    assert resp.status_code == status and resp.json["type"] == f"urn:idp:problem:{problem}"
    [refused] = audit(platform, "admin:staff:totp_reset")
    assert refused.outcome == "refused" and refused.actor == "staff:root1"
    assert refused.details == {"member_id": member, "reason": problem}
    with platform.db.session() as session:
        assert session.scalars(select(StaffTotpReset)).first() is None


def test_the_console_hides_the_reset_of_administrators(app: Flask, platform: Platform) -> None:
    from tests.admin.helpers import page_sign_in

    make_local_staff(platform, "root1", [Role.PLATFORM_ADMIN])
    make_local_staff(platform, "root2", [Role.PLATFORM_ADMIN])
    enrol_directly(platform, "root2", STAFF_PASSWORD)
    browser = app.test_client()
    page_sign_in(browser, "root1", STAFF_PASSWORD)
    assert 'id="reset-root2"' not in browser.get("/admin/staff").get_data(as_text=True)
    resp = browser.post(f"/admin/staff/{member_id(platform, 'root2')}/reset-totp",
                        data={"csrf_token": csrf(browser, "/admin/staff")})
    assert resp.status_code == 403
    assert [r.details["reason"] for r in audit(platform, "admin:staff:totp_reset")] == \
        ["target_is_admin"]
