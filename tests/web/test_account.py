"""Account centre and forced password change (R-11, R-30, R-40, R-70)."""

from __future__ import annotations

import pytest

from idp.accounts.models import AccountStatus, Person
from idp.accounts.service import Accounts
from tests.web.conftest import Waiting, audit_actions, login, post, sso_cookie

NEW = "N3w-Passw0rd!"


def test_account_page_shows_masked_data_only(client, signed_in):
    text = client.get("/account").get_data(as_text=True)
    assert "张*" in text and "1101**********0029" in text and "138****8000" in text
    assert signed_in.id_number not in text and signed_in.phone not in text
    assert "张三" not in text
    assert 'href="/end_session"' in text  # sign-out is the OP's RP-initiated logout


@pytest.mark.parametrize("url", ["/account", "/account/password", "/account/totp"])
def test_account_pages_need_a_session(client, url):
    resp = client.get(url)
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"


def test_idle_session_is_gone(client, signed_in, platform, monkeypatch):
    import time

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + platform.settings.session_idle_timeout)
    resp = client.get("/account")
    assert resp.headers["Location"] == "/login"
    assert sso_cookie(client) is None  # the dead cookie is dropped


def test_absolute_lifetime_is_enforced(client, signed_in, platform, monkeypatch):
    import time

    real = time.time
    step = platform.settings.session_idle_timeout - 100
    for k in range(1, platform.settings.session_absolute_lifetime // step + 2):
        monkeypatch.setattr(time, "time", lambda k=k: real() + k * step)
        resp = client.get("/account")
    assert resp.headers["Location"] == "/login"


def test_banned_person_loses_the_session(client, signed_in, platform):
    with platform.db.session() as db:
        Accounts(db, platform.protector, platform.hasher).set_status(
            db.get(Person, signed_in.person_id), AccountStatus.BANNED)
    assert client.get("/account").headers["Location"] == "/login"


def test_change_password_ends_other_sessions(client, signed_in, platform):
    other = client.application.test_client()
    login(other, signed_in.id_number, signed_in.password)
    resp = post(client, "/account/password", {"current_password": signed_in.password,
                                              "new_password": NEW, "confirm_password": NEW})
    assert resp.status_code == 302 and resp.headers["Location"] == "/account?changed=password"
    assert "密码已修改" in client.get("/account?changed=password").get_data(as_text=True)
    assert other.get("/account").headers["Location"] == "/login"
    assert ("account:password:change", "success") in audit_actions(platform)
    fresh = client.application.test_client()
    assert login(fresh, signed_in.id_number, NEW).status_code == 302


@pytest.mark.parametrize("form,status,text", [
    ({"current_password": "bad", "new_password": NEW, "confirm_password": NEW}, 401,
     "当前密码错误,还可尝试 4 次"),
    ({"current_password": "", "new_password": NEW, "confirm_password": NEW}, 400, "请输入当前密码"),
    ({"new_password": NEW, "confirm_password": NEW}, 400, "请输入当前密码"),
    ({"current_password": "x", "new_password": "short", "confirm_password": "short"}, 400,
     "至少需要 8 位"),
    ({"current_password": "x", "new_password": "alllowercase", "confirm_password": "x"}, 400,
     "至少三类"),
    ({"current_password": "x", "new_password": NEW, "confirm_password": NEW + "x"}, 400,
     "两次输入的新密码不一致"),
    ({"current_password": "x", "new_password": "Aa1" * 50, "confirm_password": "Aa1" * 50},
     400, "不能超过 128 位"),
])
def test_change_password_bad_input(client, signed_in, form, status, text):
    resp = post(client, "/account/password", form)
    assert resp.status_code == status and text in resp.get_data(as_text=True)
    fresh = client.application.test_client()
    assert login(fresh, signed_in.id_number, signed_in.password).status_code == 302


def test_change_to_same_password_refused(client, signed_in):
    pw = signed_in.password
    resp = post(client, "/account/password", {"current_password": pw, "new_password": pw,
                                              "confirm_password": pw})
    assert resp.status_code == 400 and "不能与当前密码相同" in resp.get_data(as_text=True)


@pytest.fixture
def reset_citizen(make_citizen, platform):  # type: ignore[no-untyped-def]
    """A citizen whose password was reset at a counter (R-11): forced change at next login."""
    c = make_citizen()
    with platform.db.session() as db:
        c.password = Accounts(db, platform.protector, platform.hasher).issue_random_password(
            db.get(Person, c.person_id))
    return c


def test_forced_password_change(client, reset_citizen, platform):
    waiting = Waiting(client, platform)
    tx = waiting.tx
    resp = login(client, reset_citizen.id_number, reset_citizen.password, url=f"/login?tx={tx.id}")
    assert resp.headers["Location"] == f"/password/change?tx={tx.id}"
    sid = sso_cookie(client)
    assert platform.sessions.load(sid).pending == ["password_change"]
    assert client.get("/account").headers["Location"] == "/login"  # not usable yet
    same = post(client, f"/password/change?tx={tx.id}", {
        "new_password": reset_citizen.password, "confirm_password": reset_citizen.password})
    assert same.status_code == 400 and "不能与当前密码相同" in same.get_data(as_text=True)
    weak = post(client, f"/password/change?tx={tx.id}",
                {"new_password": "abc", "confirm_password": "abc"})
    assert weak.status_code == 400
    done = post(client, f"/password/change?tx={tx.id}",
                {"new_password": NEW, "confirm_password": NEW})
    waiting.code_in(done)  # straight back to the client (flow.onward)
    s = platform.sessions.load(sid)
    assert s.complete
    with platform.db.session() as db:
        person = db.get(Person, reset_citizen.person_id)
        assert not person.must_change_password and s.epoch == person.security_epoch
    assert client.get("/account").status_code == 200


def test_forced_change_comes_after_second_factor(client, reset_citizen, platform):
    from tests.web.conftest import enable_totp, totp_now

    secret = enable_totp(platform, reset_citizen.person_id)
    resp = login(client, reset_citizen.id_number, reset_citizen.password)
    assert resp.headers["Location"] == "/login/totp"
    assert client.get("/password/change").headers["Location"] == "/login/totp"
    assert post(client, "/login/totp", {"code": totp_now(secret)}).headers[
        "Location"] == "/password/change"


def test_password_change_page_without_pending_step_moves_on(client, signed_in):
    assert client.get("/password/change").headers["Location"] == "/account"
