"""When /authorize sends the browser to the login pages, and the way back (login_tx.py).

OIDC Core §3.1.2.1 prompt / max_age / id_token_hint / login_hint / ui_locales /
acr_values; issue 2 item 7 client policy.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.oidc.helpers import (
    Pkce,
    auth_params,
    authorize,
    get_code,
    query,
    record_store_calls,
    redeem,
    register,
    sign_in,
    tokens,
    verify_id_token,
)


def _tx(platform, resp):
    assert resp.status_code == 302, resp.get_data(as_text=True)
    parts = urlsplit(resp.location)
    assert parts.path == "/login", resp.location
    tx = platform.login_txs.load(parse_qs(parts.query)["tx"][0])
    assert tx is not None
    return tx


def _resume(client, tx):
    return client.get("/authorize/resume", query_string={"tx": tx.id})


def test_no_session_sends_browser_to_login_with_transaction(client, platform):
    rp = register(platform)
    params = auth_params(rp, Pkce(), login_hint="13800138000", ui_locales="en zh-CN")
    tx = _tx(platform, authorize(client, params))
    assert tx.client_id == rp.client_id and tx.client_name == "社保服务"
    assert tx.params["state"] == params["state"]
    assert tx.login_hint == "13800138000"
    assert tx.ui_locales == "en zh-CN"
    assert tx.force_login is False


def test_resume_after_login_issues_code(client, platform, citizen):
    rp = register(platform)
    pkce = Pkce()
    params = auth_params(rp, pkce)
    tx = _tx(platform, authorize(client, params))
    sign_in(client, platform, citizen)
    resp = _resume(client, tx)
    got = query(resp.location)
    assert got["state"] == params["state"] and "code" in got
    assert redeem(client, rp, got["code"], pkce).status_code == 200
    assert platform.login_txs.load(tx.id) is None  # finished


def test_resume_with_unknown_transaction_shows_page(client):
    resp = client.get("/authorize/resume?tx=nope")
    assert resp.status_code == 400 and resp.location is None


def test_prompt_none_without_session_is_login_required(client, platform):
    rp = register(platform)
    params = auth_params(rp, Pkce(), prompt="none")
    got = query(authorize(client, params).location)
    assert got["error"] == "login_required" and got["state"] == params["state"]
    assert got["iss"] == "http://localhost"


def test_prompt_none_with_session_issues_code_silently(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen)
    assert get_code(client, rp, Pkce(), prompt="none")


def test_prompt_login_forces_login_and_yields_new_auth_time(client, platform, citizen):
    rp = register(platform)
    old = sign_in(client, platform, citizen, age=600)
    pkce = Pkce()
    tx = _tx(platform, authorize(client, auth_params(rp, pkce, prompt="login")))
    assert tx.force_login is True
    new = sign_in(client, platform, citizen)
    code = query(_resume(client, tx).location)["code"]
    claims = verify_id_token(client, rp, redeem(client, rp, code, pkce).get_json()["id_token"])
    assert claims["auth_time"] == new.auth_time > old.auth_time


def test_resume_without_fresh_login_goes_back_to_login(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen, age=600)
    tx = _tx(platform, authorize(client, auth_params(rp, Pkce(), prompt="login")))
    again = _tx(platform, _resume(client, tx))  # the session was not renewed
    assert again.id != tx.id


def test_max_age_1_forces_login(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen, age=5)
    assert _tx(platform, authorize(client, auth_params(rp, Pkce(), max_age="1"))).force_login


def test_max_age_10000_does_not_force_login(client, platform, citizen):
    rp = register(platform)
    s = sign_in(client, platform, citizen, age=5)
    body = tokens(client, rp, Pkce(), max_age="10000")
    assert verify_id_token(client, rp, body["id_token"])["auth_time"] == s.auth_time


def test_id_token_hint_of_signed_in_person_passes_with_prompt_none(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen)
    first = tokens(client, rp, Pkce())
    assert get_code(client, rp, Pkce(), prompt="none", id_token_hint=first["id_token"])


def test_id_token_hint_of_another_person(client, platform, citizen, make_citizen):
    rp = register(platform)
    other = make_citizen(id_number="11010519491231002X", phone="13900139000")
    sign_in(client, platform, other)
    hint = tokens(client, rp, Pkce())["id_token"]
    sign_in(client, platform, citizen)
    params = auth_params(rp, Pkce(), prompt="none", id_token_hint=hint)
    assert query(authorize(client, params).location)["error"] == "login_required"
    tx = _tx(platform, authorize(client, auth_params(rp, Pkce(), id_token_hint=hint)))
    assert tx.force_login


def test_id_token_hint_not_issued_by_us_is_invalid_request(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen)
    forged = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    got = query(authorize(client, auth_params(rp, Pkce(), id_token_hint=forged)).location)
    assert got["error"] == "invalid_request"


def test_ui_locales_and_claims_locales_accepted(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen)
    assert get_code(client, rp, Pkce(), ui_locales="en-US", claims_locales="zh-CN en")


def test_acr_values_step_up_requests_higher_level(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen, level=1)
    tx = _tx(platform, authorize(client, auth_params(
        rp, Pkce(), acr_values="urn:idp:acr:realname:2")))
    assert tx.min_level == 2


def test_acr_values_unreachable_after_login_still_issues_code_with_true_acr(
        client, platform, citizen):
    rp = register(platform)
    pkce = Pkce()
    tx = _tx(platform, authorize(client, auth_params(
        rp, pkce, acr_values="urn:idp:acr:realname:3")))
    sign_in(client, platform, citizen, level=1)
    code = query(_resume(client, tx).location)["code"]
    claims = verify_id_token(client, rp, redeem(client, rp, code, pkce).get_json()["id_token"])
    assert claims["acr"] == "urn:idp:acr:realname:1"


def test_acr_values_satisfied_by_session_issues_code(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen, level=3)
    assert get_code(client, rp, Pkce(), acr_values="urn:idp:acr:realname:2")


def test_client_minimum_level_is_enforced(client, platform, citizen):
    rp = register(platform, min_realname_level=2)
    sign_in(client, platform, citizen, level=1)
    tx = _tx(platform, authorize(client, auth_params(rp, Pkce())))
    assert tx.min_level == 2
    got = query(_resume(client, tx).location)  # the login could not raise the level
    assert got["error"] == "access_denied"


def test_client_requiring_mfa_asks_for_second_factor(client, platform, citizen):
    rp = register(platform, require_mfa=True)
    sign_in(client, platform, citizen, amr=["pwd"])
    tx = _tx(platform, authorize(client, auth_params(rp, Pkce())))
    assert tx.need_mfa
    sign_in(client, platform, citizen, amr=["pwd", "otp"])
    assert "code" in query(_resume(client, tx).location)


def test_client_for_natural_persons_refuses_acting_for_enterprise(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen, acting_for="91350200MA00000000")
    got = query(authorize(client, auth_params(rp, Pkce())).location)  # an enterprise sign-in
    assert got["error"] == "access_denied" and "certificate" in got["error_description"]
    tx = _tx(platform, authorize(client, auth_params(rp, Pkce(), prompt="login")))
    assert tx.extra["account_kinds"] == ["natural"]


def test_banned_session_person_must_log_in_again(client, platform, citizen):
    from idp.accounts.models import Person
    from idp.accounts.service import Accounts

    rp = register(platform)
    sign_in(client, platform, citizen)
    with platform.db.session() as session:
        Accounts(session, platform.protector, platform.hasher).bump_epoch(
            session.get(Person, citizen.person_id))
    assert _tx(platform, authorize(client, auth_params(rp, Pkce())))


@pytest.mark.parametrize("prompt", ["none login", "none consent"])
def test_prompt_none_combined_is_invalid_request(client, platform, citizen, prompt):
    rp = register(platform)
    sign_in(client, platform, citizen)
    got = query(authorize(client, auth_params(rp, Pkce(), prompt=prompt)).location)
    assert got["error"] == "invalid_request"


def test_client_disabled_during_login_is_refused_at_resume(client, platform, citizen):
    """authorize.RequestServer reads the client once per request: a client disabled
    between /authorize and /authorize/resume is still refused at the resume."""
    from sqlalchemy import update

    from idp.oidc.models import Client

    rp = register(platform)
    tx = _tx(platform, authorize(client, auth_params(rp, Pkce())))
    sign_in(client, platform, citizen)
    with platform.db.session() as session:
        session.execute(update(Client).where(Client.client_id == rp.client_id)
                        .values(disabled=True))
    resp = _resume(client, tx)
    assert resp.status_code == 400 and resp.location is None
    assert "未知的应用" in resp.get_data(as_text=True)


def test_resume_reads_and_writes_the_store_once_each(client, platform, citizen, monkeypatch):
    """Issue 2 "Performance": the login transaction, then the session (the client cache's
    version is a watched key, answered from memory), and the code with the transaction's
    end and the session's client list in one write (a Redis round trip each)."""
    rp = register(platform)
    pkce = Pkce()
    tx = _tx(platform, authorize(client, auth_params(rp, pkce)))
    sign_in(client, platform, citizen)
    calls = record_store_calls(platform.store, monkeypatch)
    resp = _resume(client, tx)
    assert "code" in query(resp.location)
    assert calls == ["get", "watched_get", "get", "write"]
    monkeypatch.undo()
    assert redeem(client, rp, query(resp.location)["code"], pkce).status_code == 200
    assert platform.login_txs.load(tx.id) is None
    assert rp.client_id in platform.sessions.clients(client.get_cookie("idp_sso").value)
