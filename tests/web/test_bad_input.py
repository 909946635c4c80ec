"""Hostile and malformed input at every form: clear 4xx answers, never 500, no state (R-70)."""

from __future__ import annotations

import io

import pytest

from tests.web.conftest import CSRF, enable_totp, login, make_tx, post, sso_cookie, with_csrf

JUNK = [
    {},  # everything missing
    {"identifier": "", "password": ""},
    {"identifier": "   ", "password": "x"},
    {"identifier": "1" * 65, "password": "x"},
    {"identifier": "x" * 100_000, "password": "y" * 100_000},
    {"identifier": "110105194912310029", "password": "p" * 129},
    {"identifier": "\x00\x01\x02", "password": "\x00"},
    {"identifier": "110105194912310029", "password": "ab\x00cd"},
    {"identifier": "𝟏𝟏𝟎𝟏𝟎𝟓\u202e\ufeff", "password": "密码🔑"},
    {"identifier": "' OR 1=1 --", "password": "' OR 1=1 --"},
    {"identifier": "<script>alert(1)</script>", "password": "x"},
    {"identifier": ["110105194912310029", "13800138000"], "password": ["a", "b"]},
    {"identifier": "１３８００１３８０００", "password": "wrong"},
]

SMS_JUNK = [
    {},
    {"phone": ""},
    {"phone": "12345"},
    {"phone": "1380013800a"},
    {"phone": "9" * 33, "action": "send"},
    {"phone": "13800138000", "action": "launch-missiles"},
    {"phone": "13800138000", "action": "login"},
    {"phone": "13800138000", "action": "login", "code": ""},
    {"phone": "13800138000", "action": "login", "code": "1" * 17},
    {"phone": "13800138000", "action": "login", "code": "１２３４５６"},
    {"phone": "13800138000", "action": "login", "code": "\x00" * 6},
    {"phone": "\u202e13800138000", "action": "send"},
    {"phone": ["13800138000", "13900139000"], "action": ["send", "login"]},
]


def assert_clean(resp, client, platform, phone="13800138000"):  # type: ignore[no-untyped-def]
    assert 400 <= resp.status_code < 500, resp.status_code
    assert sso_cookie(client) is None
    assert platform.sms.messages(phone) == []


@pytest.mark.parametrize("data", JUNK)
def test_password_form_junk(client, citizen, platform, data):
    resp = post(client, "/login", data)
    assert_clean(resp, client, platform)


@pytest.mark.parametrize("data", SMS_JUNK)
def test_sms_form_junk(client, citizen, platform, data):
    resp = post(client, "/login/sms", data)
    assert_clean(resp, client, platform)


@pytest.mark.parametrize("body", [b"identifier=%ED%A0%80&password=%FF%FE",
                                  b"identifier=\xff\xfe&password=\xc3",
                                  b"identifier&password&&&=", b"%%%%"])
def test_undecodable_form_bytes(client, citizen, platform, body):
    with_csrf(client)
    resp = client.post("/login", data=b"csrf_token=" + CSRF.encode() + b"&" + body,
                       content_type="application/x-www-form-urlencoded")
    assert_clean(resp, client, platform)


def test_oversized_body_is_413(client, citizen, platform):
    with_csrf(client)
    resp = client.post("/login", data={"csrf_token": CSRF, "identifier": "x",
                                       "password": "y" * (2 * 1024 * 1024)})
    assert resp.status_code == 413
    assert_clean(resp, client, platform)


def test_file_upload_instead_of_field(client, citizen, platform):
    with_csrf(client)
    resp = client.post("/login", data={"csrf_token": CSRF, "identifier": (io.BytesIO(b"x"), "a"),
                                       "password": (io.BytesIO(b"y"), "b")},
                       content_type="multipart/form-data")
    assert_clean(resp, client, platform)


def test_json_body_instead_of_form(client, citizen, platform):
    with_csrf(client)
    resp = client.post("/login", json={"identifier": citizen.id_number,
                                       "password": citizen.password},
                       headers={"X-CSRF-Token": CSRF})
    assert_clean(resp, client, platform)


@pytest.mark.parametrize("tx", ["", "x" * 65, "x" * 5000, "../../etc", "\x00", "%00", "€"])
@pytest.mark.parametrize("url", ["/login", "/login/sms", "/login/totp", "/password/change",
                                 "/account/totp"])
def test_hostile_tx_parameter(client, url, tx):
    resp = client.get(url, query_string={"tx": tx, "lang": tx})
    assert resp.status_code in (200, 302)


TOTP_JUNK = [{}, {"code": ""}, {"code": "1" * 65}, {"code": "12345"}, {"code": "1234567"},
             {"code": "abcdef"}, {"code": "１２３４５６"}, {"code": "\x00" * 10},
             {"code": ["123456", "654321"]}, {"code": "🔑" * 10}]


@pytest.mark.parametrize("data", TOTP_JUNK)
def test_totp_step_junk(client, citizen, platform, data):
    enable_totp(platform, citizen.person_id)
    login(client, citizen.id_number, citizen.password)
    sid = sso_cookie(client)
    resp = post(client, "/login/totp", data)
    assert 400 <= resp.status_code < 500
    s = platform.sessions.load(sid)
    assert s is not None and s.pending == ["totp"]


@pytest.mark.parametrize("data", [
    {}, {"new_password": "", "confirm_password": ""}, {"new_password": "x" * 10_000},
    {"new_password": "N3w-Passw0rd!", "confirm_password": ["N3w-Passw0rd!", "x"]},
    {"new_password": "N3w-Pass\x00w0rd!", "confirm_password": "N3w-Pass\x00w0rd!"},
])
def test_forced_change_junk(client, make_citizen, platform, data):
    from idp.accounts.models import Person
    from idp.accounts.service import Accounts

    c = make_citizen()
    with platform.db.session() as db:
        pw = Accounts(db, platform.protector, platform.hasher).issue_random_password(
            db.get(Person, c.person_id))
    login(client, c.id_number, pw)
    resp = post(client, "/password/change", data)
    assert resp.status_code == 400
    with platform.db.session() as db:
        assert db.get(Person, c.person_id).must_change_password


@pytest.mark.parametrize("url,data", [
    ("/account/password", {}),
    ("/account/password", {"current_password": "x" * 5000, "new_password": "N3w-Passw0rd!",
                           "confirm_password": "N3w-Passw0rd!"}),
    ("/account/totp", {"action": "confirm"}),
    ("/account/totp", {"action": "confirm", "code": "x" * 100}),
    ("/account/totp", {"action": "\x00"}),
    ("/account/totp/disable", {}),
    ("/account/totp/disable", {"password": "x" * 5000, "code": "1" * 100}),
])
def test_account_forms_junk(client, signed_in, url, data):
    resp = post(client, url, data)
    assert resp.status_code < 500


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("url", ["/login", "/login/sms", "/login/totp", "/password/change",
                                 "/account", "/account/password", "/account/totp"])
def test_wrong_methods(client, url, method):
    assert client.open(url, method=method).status_code in (400, 405)


def test_forged_sso_cookie(client, platform):
    for value in ("x" * 100, "", "nonexistent", "%00"):
        client.set_cookie("idp_sso", value)
        assert client.get("/account").status_code == 302
        assert client.get("/login/totp").status_code == 302


def test_tx_for_real_flow_unaffected_by_junk_lang(client, citizen, platform):
    tx = make_tx(platform)
    resp = client.get(f"/login?tx={tx.id}&lang=xx-junk")
    assert resp.status_code == 200 and "社会保障服务" in resp.get_data(as_text=True)
