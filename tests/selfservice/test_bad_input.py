"""Bad input to every self-service page and operation: a clear error, never a 500."""

from __future__ import annotations

import pytest

from tests.oidc.helpers import sign_in
from tests.selfservice.conftest import page_post

LONG = "1" * 65


@pytest.mark.parametrize("data, status", [
    ({}, 400),
    ({"identifier": ""}, 400),
    ({"identifier": "   "}, 400),
    ({"identifier": LONG}, 400),
    ({"identifier": "abc"}, 400),  # too short for any document
    ({"identifier": "1101-0519"}, 400),
    ({"identifier": "身份证号码一二三四五六"}, 400),
    ({"identifier": "1101051949\x0012310029"}, 400),
    ({"identifier": ["110105194912310029", "13800138000"]}, 400),  # repeated field
])
def test_forgot_page_bad_identifier(client, citizen, data, status):
    resp = page_post(client, "/password/forgot", data)
    assert resp.status_code == status
    assert "alert-error" in resp.get_data(as_text=True)


@pytest.mark.parametrize("data, status", [
    ({}, 400),
    ({"ticket": "t"}, 400),
    ({"ticket": "t", "code": "123456", "new_password": "N3w-Passw0rd!",
      "confirm_password": "Different-1!"}, 400),
    ({"ticket": "t", "code": "123456", "new_password": "short", "confirm_password": "short"},
     400),
    ({"ticket": "t", "code": "123456", "new_password": "alllowercase1",
      "confirm_password": "alllowercase1"}, 400),
    ({"ticket": "no-such-ticket", "code": "123456", "new_password": "N3w-Passw0rd!",
      "confirm_password": "N3w-Passw0rd!"}, 401),
    ({"ticket": "x" * 65, "code": "123456", "new_password": "N3w-Passw0rd!",
      "confirm_password": "N3w-Passw0rd!"}, 400),
    ({"ticket": "t", "code": "1" * 17, "new_password": "N3w-Passw0rd!",
      "confirm_password": "N3w-Passw0rd!"}, 400),
])
def test_forgot_confirm_bad_input(client, data, status):
    assert page_post(client, "/password/forgot/confirm", data).status_code == status


def test_forms_need_csrf(client, platform, citizen):
    resp = client.post("/password/forgot", data={"identifier": citizen.id_number})
    assert resp.status_code == 400
    sign_in(client, platform, citizen)
    assert client.post("/account/phone", data={"action": "start"}).status_code == 400
    assert client.post("/account/apps/revoke", data={"client_id": "x"}).status_code == 400
    assert platform.sms.messages(citizen.phone) == []


@pytest.mark.parametrize("data, status", [
    ({}, 400),
    ({"action": "explode"}, 400),
    ({"action": "x" * 17}, 400),
    ({"action": "start"}, 400),
    ({"action": "start", "new_phone": "12345"}, 400),
    ({"action": "start", "new_phone": "1" * 33}, 400),
    ({"action": "start", "new_phone": "23900139000"}, 400),
    ({"action": "start", "new_phone": "13800138000"}, 400),  # the bound one
    ({"action": "start", "new_phone": "+86 138 0013 8000"}, 400),
    ({"action": "confirm_old", "code": "123456"}, 409),
    ({"action": "confirm_old"}, 409),
    ({"action": "resend_old"}, 409),
])
def test_phone_page_bad_input(client, platform, citizen, data, status):
    sign_in(client, platform, citizen)
    resp = page_post(client, "/account/phone", data)
    assert resp.status_code == status
    assert "alert-error" in resp.get_data(as_text=True)


@pytest.mark.parametrize("query", ["?before=abc", "?before=-1", "?before=" + "9" * 30, ""])
def test_history_page_odd_cursor(client, platform, citizen, query):
    sign_in(client, platform, citizen)
    assert client.get("/account/history" + query).status_code == 200


def test_selfservice_pages_need_a_session(client):
    for path in ("/account/phone", "/account/history", "/account/apps"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/login" in resp.location, path


# -- API ------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, status, code", [
    (None, 400, "invalid_json"),
    ([], 400, "invalid_json"),
    ({}, 422, "validation"),
    ({"identifier": 13800138000}, 422, "validation"),
    ({"identifier": LONG}, 422, "validation"),
    ({"identifier": ""}, 422, "validation"),
    ({"identifier": "abc"}, 422, "validation"),
    ({"identifier": True}, 422, "validation"),
])
def test_recovery_start_api_bad_input(client, body, status, code):
    resp = (client.post("/api/v1/password-recovery", data="not json",
                        content_type="application/json") if body is None
            else client.post("/api/v1/password-recovery", json=body))
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["type"] == f"urn:idp:problem:{code}"


@pytest.mark.parametrize("body, status, code", [
    ({}, 422, "validation"),
    ({"ticket": "t", "code": "123456"}, 422, "validation"),
    ({"ticket": "t", "code": 123456, "new_password": "N3w-Passw0rd!"}, 422, "validation"),
    ({"ticket": "t", "code": "123456", "new_password": "weak"}, 422, "validation"),
    ({"ticket": "t", "code": "123456", "new_password": "N3w-Passw0rd!\x00"}, 422, "validation"),
    ({"ticket": "t" * 65, "code": "123456", "new_password": "N3w-Passw0rd!"}, 422, "validation"),
    ({"ticket": "unknown", "code": "123456", "new_password": "N3w-Passw0rd!"}, 400,
     "code_expired"),
    ({"ticket": "unknown", "code": "", "new_password": "N3w-Passw0rd!"}, 400, "code_expired"),
])
def test_recovery_confirm_api_bad_input(client, body, status, code):
    resp = client.post("/api/v1/password-recovery/confirm", json=body)
    assert resp.status_code == status
    assert resp.get_json()["type"] == f"urn:idp:problem:{code}"


@pytest.mark.parametrize("path, body, status, code", [
    ("/api/v1/me/phone", {}, 422, "validation"),
    ("/api/v1/me/phone", {"new_phone": 13900139000}, 422, "validation"),
    ("/api/v1/me/phone", {"new_phone": "139"}, 422, "validation"),
    ("/api/v1/me/phone", {"new_phone": "13800138000"}, 422, "same_phone"),
    ("/api/v1/me/phone", {"new_phone": "1" * 33}, 422, "validation"),
    ("/api/v1/me/phone/confirm-old", {"code": "123456"}, 409, "step_out_of_order"),
    ("/api/v1/me/phone/confirm-old", {"code": None}, 422, "validation"),
    ("/api/v1/me/phone/confirm-new", {"code": "x" * 17}, 422, "validation"),
    ("/api/v1/me/phone/resend", {}, 409, "step_out_of_order"),
])
def test_phone_api_bad_input(client, app_user, path, body, status, code):
    resp = client.post(path, json=body, headers=app_user.headers)
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["type"] == f"urn:idp:problem:{code}"


@pytest.mark.parametrize("query, status", [
    ("?limit=0", 422), ("?limit=101", 422), ("?limit=abc", 422), ("?limit=-1", 422),
    ("?before=x", 422), ("?before=" + "9" * 30, 422), ("?limit=5&before=10", 200),
])
def test_logins_api_bad_query(client, app_user, query, status):
    assert client.get("/api/v1/me/logins" + query, headers=app_user.headers).status_code == status


@pytest.mark.parametrize("client_id", ["no-such", "x" * 65, "%00", "gov-app"])
def test_revoke_api_unknown_app(client, app_user, client_id):
    resp = client.delete(f"/api/v1/me/apps/{client_id}", headers=app_user.headers)
    assert resp.status_code == 404
    assert resp.get_json()["type"] == "urn:idp:problem:not_authorised"


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer x.y.z", "Basic abc"])
def test_me_api_needs_a_valid_token(client, header):
    resp = client.get("/api/v1/me/logins", headers={"Authorization": header} if header else {})
    assert resp.status_code == 401
