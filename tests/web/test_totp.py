"""TOTP second factor: enrolment, login step, replay, recovery codes, lockout (RFC 6238)."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from idp.accounts.totp import matching_step, new_secret
from tests.web.conftest import (
    Waiting,
    audit_actions,
    enable_totp,
    login,
    make_tx,
    post,
    sso_cookie,
    totp_now,
)


def test_secret_is_160_bits_and_drift_is_one_step():
    secret = new_secret()
    assert len(secret) == 32  # base32 of 20 bytes
    now = 1_700_000_000
    code = pyotp.TOTP(secret).at(now)
    assert matching_step(secret, code, now) == now // 30
    assert matching_step(secret, pyotp.TOTP(secret).at(now - 30), now) == now // 30 - 1
    assert matching_step(secret, pyotp.TOTP(secret).at(now + 30), now) == now // 30 + 1
    assert matching_step(secret, pyotp.TOTP(secret).at(now - 60), now) is None
    assert matching_step(secret, "12345", now) is None


def test_enrolment_through_account_centre(client, signed_in, platform):
    page = client.get("/account/totp")
    assert page.status_code == 200 and 'value="begin"' in page.get_data(as_text=True)
    shown = post(client, "/account/totp", {"action": "begin"}).get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in shown
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", shown).group(1).replace(" ", "")
    assert len(secret) == 32
    # Reloading keeps the same secret (the QR code already scanned stays valid).
    assert secret[:4] in client.get("/account/totp").get_data(as_text=True)
    bad = post(client, "/account/totp", {"action": "confirm", "code": "000000"})
    assert bad.status_code == 400 and "动态口令不正确" in bad.get_data(as_text=True)
    done = post(client, "/account/totp", {"action": "confirm", "code": totp_now(secret)})
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.get_data(as_text=True))
    assert done.status_code == 200 and len(codes) == 10 and len(set(codes)) == 10
    assert "已开启" in client.get("/account").get_data(as_text=True)
    assert ("account:totp:confirm", "success") in audit_actions(platform)
    with platform.db.session() as db:
        from sqlalchemy import select

        from idp.accounts.models import RecoveryCode, TotpCredential

        stored = db.scalars(select(TotpCredential)).one()
        assert secret not in stored.secret_enc
        digests = {r.code_digest for r in db.scalars(select(RecoveryCode))}
        assert not digests & set(codes)


def test_login_requires_second_factor(client, citizen, platform):
    secret = enable_totp(platform, citizen.person_id)
    waiting = Waiting(client, platform)
    tx = waiting.tx
    resp = login(client, citizen.id_number, citizen.password, url=f"/login?tx={tx.id}")
    assert resp.headers["Location"] == f"/login/totp?tx={tx.id}"
    sid = sso_cookie(client)
    assert platform.sessions.load(sid).pending == ["totp"]
    # The half-made session is invisible elsewhere: the account centre sends us to log in.
    assert client.get("/account").headers["Location"].startswith("/login")
    done = post(client, f"/login/totp?tx={tx.id}", {"code": totp_now(secret)})
    waiting.code_in(done)  # straight back to the client (flow.onward)
    s = platform.sessions.load(sid)
    assert s.complete and s.amr == ["pwd", "otp", "mfa"]


def test_sms_login_also_requires_second_factor(client, citizen, platform):
    from tests.web.conftest import last_code

    enable_totp(platform, citizen.person_id)
    post(client, "/login/sms", {"phone": citizen.phone, "action": "send"})
    resp = post(client, "/login/sms", {"phone": citizen.phone, "action": "login",
                                       "code": last_code(platform, citizen.phone)})
    assert resp.headers["Location"] == "/login/totp"


def test_replayed_code_is_refused(client, citizen, platform):
    secret = enable_totp(platform, citizen.person_id)
    code = totp_now(secret)
    login(client, citizen.id_number, citizen.password)
    assert post(client, "/login/totp", {"code": code}).status_code == 302
    other = client.application.test_client()
    login(other, citizen.id_number, citizen.password)
    replay = post(other, "/login/totp", {"code": code})
    assert replay.status_code == 401 and "已使用过" in replay.get_data(as_text=True)
    # An older step is refused too once a newer one was used.
    assert post(other, "/login/totp", {"code": totp_now(secret, -1)}).status_code == 401


def test_recovery_code_works_once(client, signed_in, platform):
    shown = post(client, "/account/totp", {"action": "begin"}).get_data(as_text=True)
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", shown).group(1).replace(" ", "")
    done = post(client, "/account/totp", {"action": "confirm", "code": totp_now(secret)})
    code = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.get_data(as_text=True))[0]
    fresh = client.application.test_client()
    login(fresh, signed_in.id_number, signed_in.password)
    ok = post(fresh, "/login/totp", {"code": " " + code.upper().replace("-", " ") + " "})
    assert ok.status_code == 302 and ok.headers["Location"] == "/account"
    assert ("account:recovery-code:use", "success") in audit_actions(platform)
    again = client.application.test_client()
    login(again, signed_in.id_number, signed_in.password)
    assert post(again, "/login/totp", {"code": code}).status_code == 401


@pytest.mark.parametrize("settings_overrides", [{"totp_max_failures": 2}])
def test_second_factor_locks_and_ends_half_login(client, citizen, platform):
    secret = enable_totp(platform, citizen.person_id)
    login(client, citizen.id_number, citizen.password)
    sid = sso_cookie(client)
    first = post(client, "/login/totp", {"code": "000000"})
    assert "还可尝试 1 次" in first.get_data(as_text=True)
    locked = post(client, "/login/totp", {"code": "999999"})
    assert locked.status_code == 429 and "动态口令验证已锁定" in locked.get_data(as_text=True)
    assert platform.sessions.load(sid) is None and sso_cookie(client) is None
    login(client, citizen.id_number, citizen.password)
    still = post(client, "/login/totp", {"code": totp_now(secret)})
    assert still.status_code == 429
    assert ("account:lockout", "locked") in audit_actions(platform)


def test_totp_step_without_session_goes_to_login(client, platform):
    tx = make_tx(platform)
    assert client.get(f"/login/totp?tx={tx.id}").headers["Location"] == f"/login?tx={tx.id}"
    assert client.get("/login/totp?tx=forged").headers["Location"] == "/login"


def test_client_demanding_mfa_leads_to_enrolment(client, citizen, platform):
    tx = make_tx(platform, need_mfa=True)
    resp = login(client, citizen.id_number, citizen.password, url=f"/login?tx={tx.id}")
    assert resp.headers["Location"] == f"/account/totp?tx={tx.id}"
    assert "该应用要求两步验证" in client.get(resp.headers["Location"]).get_data(as_text=True)
    shown = post(client, f"/account/totp?tx={tx.id}", {"action": "begin"}).get_data(as_text=True)
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", shown).group(1).replace(" ", "")
    done = post(client, f"/account/totp?tx={tx.id}",
                {"action": "confirm", "code": totp_now(secret)})
    assert f"/authorize/resume?tx={tx.id}" in done.get_data(as_text=True)
    assert "mfa" in platform.sessions.load(sso_cookie(client)).amr


def test_step_up_for_a_signed_in_person(client, citizen, platform):
    secret = enable_totp(platform, citizen.person_id)
    post(client, "/login/sms", {"phone": citizen.phone, "action": "send"})
    from tests.web.conftest import last_code

    post(client, "/login/sms", {"phone": citizen.phone, "action": "login",
                                "code": last_code(platform, citizen.phone)})
    post(client, "/login/totp", {"code": totp_now(secret)})
    tx = make_tx(platform, need_mfa=True)
    # Already has mfa: straight back to the client.
    assert client.get(f"/login?tx={tx.id}").headers["Location"].startswith("/authorize/resume")


def test_disable_needs_password_and_code(client, signed_in, platform):
    secret = enable_totp(platform, signed_in.person_id)
    time.sleep(0)  # the enrolment used the previous step; the current one is still free
    wrong_pw = post(client, "/account/totp/disable", {"password": "bad", "code": totp_now(secret)})
    assert wrong_pw.status_code == 401 and "当前密码错误" in wrong_pw.get_data(as_text=True)
    missing = post(client, "/account/totp/disable", {"password": signed_in.password})
    assert missing.status_code == 400
    wrong_code = post(client, "/account/totp/disable",
                      {"password": signed_in.password, "code": "000000"})
    assert wrong_code.status_code == 401
    ok = post(client, "/account/totp/disable",
              {"password": signed_in.password, "code": totp_now(secret)})
    assert ok.status_code == 302 and ok.headers["Location"] == "/account?changed=totp_off"
    assert ("account:totp:disable", "success") in audit_actions(platform)
    fresh = client.application.test_client()
    assert login(fresh, signed_in.id_number, signed_in.password).headers["Location"] == "/account"


def test_step_up_with_totp_for_a_single_factor_session(client, citizen, platform):
    secret = enable_totp(platform, citizen.person_id)
    # A session that did not prove a second factor (e.g. started before TOTP was enabled).
    s = platform.sessions.start(person_id=citizen.person_id, sub=citizen.sub, epoch=0,
                                amr=["sms"], acr="urn:idp:acr:realname:1")
    client.set_cookie("idp_sso", s.sid)
    waiting = Waiting(client, platform, {"require_mfa": True})
    tx = waiting.tx
    assert tx.need_mfa
    resp = client.get(f"/login?tx={tx.id}")
    assert resp.headers["Location"] == f"/login/totp?tx={tx.id}"
    done = post(client, f"/login/totp?tx={tx.id}", {"code": totp_now(secret)})
    waiting.code_in(done)  # straight back to the client (flow.onward)
    assert platform.sessions.load(s.sid).amr == ["sms", "otp", "mfa"]


def test_step_up_without_totp_goes_to_enrolment(client, signed_in, platform):
    tx = make_tx(platform, need_mfa=True)
    assert client.get(f"/login?tx={tx.id}").headers["Location"] == f"/login/totp?tx={tx.id}"
    assert client.get(f"/login/totp?tx={tx.id}").headers[
        "Location"] == f"/account/totp?tx={tx.id}"
