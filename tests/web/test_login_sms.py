"""Phone + SMS code login and the SMS send limits (R-30, R-31, R-70)."""

from __future__ import annotations

import re

import pytest

from idp.sms import SmsError
from tests.web.conftest import (
    Waiting,
    audit_actions,
    audit_details,
    last_code,
    post,
    sso_cookie,
)


def send(client, phone: str, url: str = "/login/sms", **kw):  # type: ignore[no-untyped-def]
    return post(client, url, {"phone": phone, "action": "send"}, **kw)


def sign_in(client, phone: str, code: str, url: str = "/login/sms"):  # type: ignore[no-untyped-def]
    return post(client, url, {"phone": phone, "code": code, "action": "login"})


def test_sms_login_success(client, citizen, platform):
    resp = send(client, citizen.phone)
    assert resp.status_code == 200
    assert "验证码已发送至 138****8000" in resp.get_data(as_text=True)
    code = last_code(platform, citizen.phone)
    resp = sign_in(client, citizen.phone, code)
    assert resp.status_code == 302 and resp.headers["Location"] == "/account"
    s = platform.sessions.load(sso_cookie(client))
    assert s.amr == ["sms"] and s.person_id == citizen.person_id
    assert ("sms:send", "success") in audit_actions(platform)
    assert code not in repr(audit_details(platform))


def test_sms_login_with_tx_and_formatted_phone(client, citizen, platform):
    waiting = Waiting(client, platform)
    send(client, "+86 138-0013-8000", url=f"/login/sms?tx={waiting.tx.id}")
    code = last_code(platform, citizen.phone)
    resp = sign_in(client, "138 0013 8000", code, url=f"/login/sms?tx={waiting.tx.id}")
    waiting.code_in(resp)  # straight back to the client (flow.onward)


def test_code_is_single_use(client, citizen, platform):
    send(client, citizen.phone)
    code = last_code(platform, citizen.phone)
    assert sign_in(client, citizen.phone, code).status_code == 302
    client.delete_cookie("idp_sso")
    again = sign_in(client, citizen.phone, code)
    assert again.status_code == 401 and "验证码错误或已失效" in again.get_data(as_text=True)


@pytest.mark.parametrize("settings_overrides", [{"sms_code_max_attempts": 3}])
def test_code_dies_after_max_attempts(client, citizen, platform):
    send(client, citizen.phone)
    code = last_code(platform, citizen.phone)
    wrong = "000000" if code != "000000" else "111111"
    assert "还可尝试 2 次" in sign_in(client, citizen.phone, wrong).get_data(as_text=True)
    assert "还可尝试 1 次" in sign_in(client, citizen.phone, wrong).get_data(as_text=True)
    assert "验证码错误或已失效" in sign_in(client, citizen.phone, wrong).get_data(as_text=True)
    dead = sign_in(client, citizen.phone, code)
    assert dead.status_code == 401 and sso_cookie(client) is None


def test_unknown_phone_looks_the_same_but_nothing_is_sent(client, platform):
    resp = send(client, "13912345678")
    assert resp.status_code == 200
    assert "验证码已发送至 139****5678" in resp.get_data(as_text=True)
    assert platform.sms.messages("13912345678") == []
    assert ("sms:send", "suppressed") in audit_actions(platform)
    wrong = sign_in(client, "13912345678", "123456")
    assert wrong.status_code == 401 and "还可尝试 4 次" in wrong.get_data(as_text=True)
    again = send(client, "13912345678")
    assert again.status_code == 429 and "秒后再试" in again.get_data(as_text=True)


def test_one_code_per_phone_per_interval(client, citizen, platform):
    assert send(client, citizen.phone).status_code == 200
    resp = send(client, citizen.phone)
    assert resp.status_code == 429
    assert re.search(r"获取验证码过于频繁,请 (59|60) 秒后再试", resp.get_data(as_text=True))
    assert len(platform.sms.messages(citizen.phone)) == 1
    assert ("sms:send", "too_soon") in audit_actions(platform)


@pytest.mark.parametrize("settings_overrides", [{"sms_per_phone_interval": 1,
                                                 "sms_per_phone_daily": 2}])
def test_daily_limit_per_phone(client, citizen, platform):
    import time

    assert send(client, citizen.phone).status_code == 200
    time.sleep(1.05)
    assert send(client, citizen.phone).status_code == 200
    time.sleep(1.05)
    resp = send(client, citizen.phone)
    assert resp.status_code == 429 and "今日获取验证码的次数已达上限" in resp.get_data(as_text=True)
    assert len(platform.sms.messages(citizen.phone)) == 2


@pytest.mark.parametrize("settings_overrides", [{"sms_per_address_hourly": 2}])
def test_hourly_limit_per_address(client, platform):
    assert send(client, "13900000001").status_code == 200
    assert send(client, "13900000002").status_code == 200
    resp = send(client, "13900000003")
    assert resp.status_code == 429 and "此网络获取验证码过于频繁" in resp.get_data(as_text=True)


def test_gateway_failure_is_a_clear_message_and_no_code(client, citizen, platform, monkeypatch):
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise SmsError("down")

    monkeypatch.setattr(platform.sms, "send", broken)
    resp = send(client, citizen.phone)
    assert resp.status_code == 503 and "短信发送失败" in resp.get_data(as_text=True)
    monkeypatch.undo()
    assert send(client, citizen.phone).status_code == 200  # the interval was given back


def test_banned_account_told_after_right_code(client, citizen, platform):
    from idp.accounts.models import AccountStatus, Person
    from idp.accounts.service import Accounts

    with platform.db.session() as db:
        Accounts(db, platform.protector, platform.hasher).set_status(
            db.get(Person, citizen.person_id), AccountStatus.BANNED)
    send(client, citizen.phone)
    resp = sign_in(client, citizen.phone, last_code(platform, citizen.phone))
    assert resp.status_code == 403 and "该账号已被停用" in resp.get_data(as_text=True)
