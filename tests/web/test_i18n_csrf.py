"""Language selection (zh-CN first, English available) and CSRF refusal (R-70)."""

from __future__ import annotations

import pytest

from tests.web.conftest import login, make_tx


def test_chinese_by_default(client):
    text = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in text and "身份证号或手机号" in text
    assert 'href="/login?lang=en"' in text


def test_english_by_query_keeps_tx_and_sticks(client, platform):
    tx = make_tx(platform, client_name="Housing Fund")
    resp = client.get(f"/login?tx={tx.id}&lang=en")
    text = resp.get_data(as_text=True)
    assert '<html lang="en">' in text
    assert "Sign in to continue to Housing Fund" in text and "ID number or phone number" in text
    assert f'href="/login?tx={tx.id}&amp;lang=zh-CN"' in text  # the switch keeps the tx
    assert "Sign in" in client.get("/login/sms").get_data(as_text=True)  # cookie remembered


def test_english_by_accept_language(client):
    text = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(
        as_text=True)
    assert '<html lang="en">' in text and "Password" in text


def test_chinese_accept_language_wins_over_nothing(client):
    text = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).get_data(
        as_text=True)
    assert "密码登录" in text


def test_ui_locales_of_the_transaction(client, platform):
    tx = make_tx(platform, ui_locales="en-GB fr")
    assert "Sign in" in client.get(f"/login?tx={tx.id}").get_data(as_text=True)


def test_english_error_messages_with_plurals(client, citizen):
    client.get("/login?lang=en")
    text = login(client, citizen.id_number, "bad").get_data(as_text=True)
    assert "Wrong account or password. 4 attempts left." in text


def test_english_error_page(client):
    text = client.get("/no-such-page?lang=en").get_data(as_text=True)
    assert "Page not found" in text


def test_every_form_carries_a_csrf_token(client, signed_in):
    for url in ("/account/password", "/account/totp"):
        assert 'name="csrf_token"' in client.get(url).get_data(as_text=True)
    fresh = client.application.test_client()
    for url in ("/login", "/login/sms"):
        assert 'name="csrf_token"' in fresh.get(url).get_data(as_text=True)


@pytest.mark.parametrize("url,data", [
    ("/login", {"identifier": "110105194912310029", "password": "Zhang3-Passw0rd"}),
    ("/login/sms", {"phone": "13800138000", "action": "send"}),
    ("/login/totp", {"code": "123456"}),
    ("/password/change", {"new_password": "N3w-Passw0rd!", "confirm_password": "N3w-Passw0rd!"}),
    ("/account/password", {"current_password": "x"}),
    ("/account/totp", {"action": "begin"}),
    ("/account/totp/disable", {"password": "x", "code": "123456"}),
])
@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_post_without_valid_csrf_token_is_refused(client, citizen, platform, url, data, token):
    client.get("/login")  # the session holds a real token
    if token is not None:
        data = {**data, "csrf_token": token}
    resp = client.post(url, data=data)
    assert resp.status_code == 400
    assert "页面已过期" in resp.get_data(as_text=True)
    assert platform.sms.messages(citizen.phone) == []
    assert client.get_cookie("idp_sso") is None
