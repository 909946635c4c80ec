"""Password login: success, SSO session, hand-off to /authorize/resume, lockouts (R-30, R-70)."""

from __future__ import annotations

import pytest

from idp.accounts.models import AccountStatus, Person
from idp.accounts.service import Accounts
from tests.oidc.helpers import record_store_calls, redeem
from tests.web.conftest import (
    CSRF,
    Waiting,
    audit_actions,
    audit_details,
    login,
    make_tx,
    sso_cookie,
)


def test_login_by_id_number_starts_session_and_goes_to_account(client, citizen, platform):
    resp = login(client, citizen.id_number, citizen.password)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/account"
    sid = sso_cookie(client)
    s = platform.sessions.load(sid)
    assert s is not None and s.complete
    assert s.person_id == citizen.person_id and s.sub == citizen.sub
    assert s.amr == ["pwd"] and s.acr == "urn:idp:acr:realname:1"
    assert ("account:login:success", "success") in audit_actions(platform)


def test_login_by_bound_phone(client, citizen):
    resp = login(client, citizen.phone, citizen.password)
    assert resp.status_code == 302 and sso_cookie(client)


def test_login_page_names_the_waiting_client_and_prefills_the_hint(client, citizen, platform):
    tx = make_tx(platform, login_hint=citizen.phone)
    page = client.get(f"/login?tx={tx.id}")
    text = page.get_data(as_text=True)
    assert "登录以继续访问 社会保障服务" in text
    assert f'value="{citizen.phone}"' in text  # login_hint prefilled


def test_login_with_tx_answers_with_the_clients_redirect(client, citizen, platform):
    """No hop through /authorize/resume (flow.onward): the login's own answer carries the
    code and state to the client, and the new session's cookie."""
    waiting = Waiting(client, platform)
    resp = login(client, citizen.id_number, citizen.password, url=f"/login?tx={waiting.tx.id}")
    code = waiting.code_in(resp)
    sid = sso_cookie(client)
    assert sid and f"idp_sso={sid}" in ";".join(resp.headers.getlist("Set-Cookie"))
    assert platform.sessions.clients(sid) == {waiting.rp.client_id}  # back-channel logout
    assert platform.login_txs.load(waiting.tx.id) is None  # finished
    assert redeem(client, waiting.rp, code, waiting.pkce).status_code == 200
    actions = [a for a, _ in audit_actions(platform)]
    assert actions.index("account:login:success") < actions.index("oidc:authorize")


def test_pages_after_the_login_keep_the_hop_through_the_resume(client, citizen, platform):
    """What is not a redirect to the client — the consent page, the error page of a client
    disabled during the login — is not the answer to the password POST (a reload would
    send the password again): the browser goes to /authorize/resume, which shows it."""
    from sqlalchemy import update

    from idp.oidc.models import Client

    asks = Waiting(client, platform, {"skip_consent": False})
    resp = login(client, citizen.id_number, citizen.password, url=f"/login?tx={asks.tx.id}")
    assert resp.status_code == 302 and resp.location == f"/authorize/resume?tx={asks.tx.id}"
    assert sso_cookie(client)  # signed in; only the authorization waits for the person
    page = client.get(resp.location)
    assert page.status_code == 200 and 'name="decision"' in page.get_data(as_text=True)
    client.delete_cookie("idp_sso")
    gone = Waiting(client, platform)
    with platform.db.session() as session:
        session.execute(update(Client).where(Client.client_id == gone.rp.client_id)
                        .values(disabled=True))
    resp = login(client, citizen.id_number, citizen.password, url=f"/login?tx={gone.tx.id}")
    assert resp.status_code == 302 and resp.location == f"/authorize/resume?tx={gone.tx.id}"
    page = client.get(resp.location)
    assert page.status_code == 400 and "未知的应用" in page.get_data(as_text=True)


def test_a_resume_that_fails_within_the_login_keeps_the_session(client, citizen, platform,
                                                                 monkeypatch):
    """The login has committed and the old session is gone: if the resume breaks (the
    Store or database failing for a moment), the answer is still the hop, with the new
    session's cookie, and the browser's retry at /authorize/resume issues the code."""
    from idp.oidc import views

    waiting = Waiting(client, platform)
    with monkeypatch.context() as patched:
        patched.setattr(views, "_in_transaction",
                        lambda *_a, **_k: (_ for _ in ()).throw(ConnectionError("down")))
        resp = login(client, citizen.id_number, citizen.password,
                     url=f"/login?tx={waiting.tx.id}")
    assert resp.status_code == 302
    assert resp.location == f"/authorize/resume?tx={waiting.tx.id}"
    assert sso_cookie(client)
    retried = client.get(resp.location)
    assert retried.status_code == 302 and retried.location.startswith(waiting.rp.redirect_uri)


def test_client_name_is_escaped(client, platform):
    tx = make_tx(platform, client_name="<script>alert(1)</script>")
    text = client.get(f"/login?tx={tx.id}").get_data(as_text=True)
    assert "<script>alert(1)" not in text and "&lt;script&gt;" in text


def test_unknown_tx_is_explained_and_login_goes_to_account(client, citizen):
    page = client.get("/login?tx=nope")
    assert page.status_code == 200 and "登录请求已过期" in page.get_data(as_text=True)
    resp = login(client, citizen.id_number, citizen.password, url="/login?tx=nope")
    assert resp.headers["Location"] == "/account"


def test_each_login_gets_a_new_session_id(client, citizen, platform):
    login(client, citizen.id_number, citizen.password)
    first = sso_cookie(client)
    platform.sessions.add_client(first, "c-social")
    tx = make_tx(platform, force_login=True)
    assert client.get(f"/login?tx={tx.id}").status_code == 200  # prompt=login shows the form
    login(client, citizen.id_number, citizen.password, url=f"/login?tx={tx.id}")
    second = sso_cookie(client)
    assert second and second != first
    assert platform.sessions.load(first) is None
    assert platform.sessions.clients(second) == {"c-social"}  # back-channel still reachable


def test_signed_in_browser_skips_form(client, citizen, platform):
    login(client, citizen.id_number, citizen.password)
    tx = make_tx(platform)
    resp = client.get(f"/login?tx={tx.id}")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/authorize/resume")


def test_wrong_password_says_attempts_left(client, citizen, platform):
    resp = login(client, citizen.id_number, "Wrong-passw0rd")
    assert resp.status_code == 401
    assert "账号或密码错误,还可尝试 4 次" in resp.get_data(as_text=True)
    assert sso_cookie(client) is None
    assert ("account:login:failure", "failure") in audit_actions(platform)


def test_unknown_account_answers_like_a_wrong_password(client, citizen):
    known = login(client, citizen.id_number, "Wrong-passw0rd")
    unknown = login(client, "110105194912310037", "Wrong-passw0rd")
    assert unknown.status_code == known.status_code == 401
    assert "还可尝试 4 次" in unknown.get_data(as_text=True)


@pytest.mark.parametrize("settings_overrides", [{"password_max_failures": 3,
                                                 "lockout_seconds": 900}])
def test_account_locks_after_failures_even_for_right_password(client, citizen, platform):
    for left in (2, 1):
        assert f"还可尝试 {left} 次" in login(client, citizen.phone, "bad").get_data(as_text=True)
    locked = login(client, citizen.id_number, "bad")
    assert locked.status_code == 429
    assert "账号已锁定,请于 15 分钟后再试" in locked.get_data(as_text=True)
    again = login(client, citizen.id_number, citizen.password)
    assert again.status_code == 429 and sso_cookie(client) is None
    actions = audit_actions(platform)
    assert ("account:lockout", "locked") in actions
    assert ("account:login:failure", "locked") in actions


@pytest.mark.parametrize("settings_overrides", [{"password_max_failures": 2}])
def test_unknown_accounts_lock_the_same_way(client):
    login(client, "110105194912310037", "bad")
    resp = login(client, "110105194912310037", "bad")
    assert resp.status_code == 429 and "账号已锁定" in resp.get_data(as_text=True)


@pytest.mark.parametrize("settings_overrides", [{"password_max_failures": 3}])
def test_success_forgives_earlier_failures(client, citizen):
    login(client, citizen.id_number, "bad")
    login(client, citizen.id_number, "bad")
    assert login(client, citizen.id_number, citizen.password).status_code == 302
    client.delete_cookie("idp_sso")
    assert "还可尝试 2 次" in login(client, citizen.id_number, "bad").get_data(as_text=True)


@pytest.mark.parametrize("settings_overrides", [{"address_max_failures": 3,
                                                 "address_window_seconds": 600}])
def test_source_address_is_throttled_across_accounts(client, make_citizen, platform):
    a = make_citizen()
    b = make_citizen(id_number="110105194912310037", phone="13900139000")
    login(client, a.id_number, "bad")
    login(client, b.id_number, "bad")
    login(client, "11010519491231004X", "bad")
    resp = login(client, b.id_number, b.password)
    assert resp.status_code == 429
    assert "此网络的尝试次数过多,请于 10 分钟后再试" in resp.get_data(as_text=True)
    assert ("account:login:failure", "throttled") in audit_actions(platform)
    # Another source address is not affected.
    elsewhere = client.application.test_client()
    with elsewhere.session_transaction() as s:
        s["csrf"] = CSRF
    ok = elsewhere.post("/login", data={"csrf_token": CSRF, "identifier": b.id_number,
                                        "password": b.password},
                        environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert ok.status_code == 302


@pytest.mark.parametrize("status,text", [(AccountStatus.BANNED, "该账号已被停用"),
                                         (AccountStatus.CLOSED, "该账号已注销")])
def test_unavailable_account_told_only_after_right_password(client, citizen, platform, status,
                                                            text):
    with platform.db.session() as db:
        person = db.get(Person, citizen.person_id)
        Accounts(db, platform.protector, platform.hasher).set_status(person, status)
    wrong = login(client, citizen.id_number, "bad")
    assert wrong.status_code == 401 and text not in wrong.get_data(as_text=True)
    right = login(client, citizen.id_number, citizen.password)
    assert right.status_code == 403 and text in right.get_data(as_text=True)
    assert sso_cookie(client) is None
    assert ("account:login:failure", "refused") in audit_actions(platform)


def test_audit_never_holds_secrets_or_full_identifiers(client, citizen, platform):
    login(client, citizen.id_number, "Wrong-passw0rd")
    login(client, citizen.phone, citizen.password)
    blob = repr(audit_details(platform))
    for secret in (citizen.id_number, citizen.phone, citizen.password, "Wrong-passw0rd"):
        assert secret not in blob
    assert "1101**********0029" in blob and "138****8000" in blob


def test_legacy_hash_is_upgraded_at_login(client, make_citizen, platform):
    import bcrypt

    legacy = bcrypt.hashpw(b"Legacy-Pass1", bcrypt.gensalt(rounds=4)).decode()
    c = make_citizen(password=None, password_hash=legacy)
    assert login(client, c.id_number, "Legacy-Pass1").status_code == 302
    with platform.db.session() as db:
        assert db.get(Person, c.person_id).password_hash.startswith("$argon2id$")


def test_password_login_reads_its_counters_once_and_writes_the_session_once(
        client, citizen, platform, monkeypatch):
    """Issue 2 "Performance": address budget, lock and failures in one read (lockout.Standing),
    no write to forgive failures that were never counted, the session and its index in one
    write — the lockout behaviour itself is the tests above. Then the resume, in the same
    request, with the transaction and the session already in hand: the client cache's
    version (a watched key, answered from memory), then the code, the transaction's end and
    the session's client list in one write."""
    waiting = Waiting(client, platform)
    calls = record_store_calls(platform.store, monkeypatch)
    resp = login(client, citizen.id_number, citizen.password, url=f"/login?tx={waiting.tx.id}")
    waiting.code_in(resp)
    assert calls == ["get", "mget", "write", "watched_get", "write"]
    monkeypatch.undo()
    s = platform.sessions.load(sso_cookie(client))
    assert s is not None and s.sid in platform.sessions.sessions_of(citizen.person_id)
