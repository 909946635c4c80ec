"""RP-initiated logout and back-channel logout (OIDC RP-Initiated Logout 1.0, BCL 1.0)."""

from __future__ import annotations

import pytest
import requests
from joserfc import jwt

from idp.accounts.models import Person
from idp.oidc import logout
from tests.oidc.helpers import Pkce, introspect, jwks, register, sign_in, tokens

BCL = "https://rp.example.gov.cn/backchannel"
OTHER_BCL = "https://gjj.example.gov.cn/backchannel"


@pytest.fixture
def posted(monkeypatch):
    """Capture back-channel POSTs instead of sending them."""
    sent: list[tuple[str, str]] = []

    class Ok:
        status_code = 200

    def fake_post(url, data=None, timeout=None, allow_redirects=True):
        assert timeout == logout.SEND_TIMEOUT and allow_redirects is False
        sent.append((url, data["logout_token"]))
        return Ok()

    monkeypatch.setattr(logout.requests, "post", fake_post)
    return sent


def _two_rps(platform):
    return (register(platform, backchannel_logout_uri=BCL,
                     post_logout_redirect_uris=["https://rp.example.gov.cn/bye"]),
            register(platform, name="公积金", backchannel_logout_uri=OTHER_BCL,
                     redirect_uris=["https://gjj.example.gov.cn/cb"]))


def test_rp_initiated_logout_redirects_and_notifies_every_client(client, platform, citizen,
                                                                  posted):
    social, fund = _two_rps(platform)
    s = sign_in(client, platform, citizen)
    id_token = tokens(client, social, Pkce())["id_token"]
    id_token_sid = jwt.decode(id_token, jwks(client)).claims["sid"]
    fund_at = tokens(client, fund, Pkce())["access_token"]
    resp = client.get("/end_session", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": "https://rp.example.gov.cn/bye",
        "state": "s1"})
    assert resp.status_code == 302
    assert resp.location == "https://rp.example.gov.cn/bye?state=s1"
    assert platform.sessions.load(s.sid) is None
    assert sorted(url for url, _ in posted) == [OTHER_BCL, BCL]
    for _url, token in posted:
        claims = jwt.decode(token, jwks(client)).claims
        assert claims["sid"] == id_token_sid != s.sid and claims["sub"] == citizen.sub
        assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
        assert "nonce" not in claims and claims["jti"]
    assert introspect(client, fund, fund_at)["active"] is False  # session's tokens refused


def test_logout_without_id_token_hint_asks_for_confirmation(client, platform, citizen, posted):
    s = sign_in(client, platform, citizen)
    resp = client.get("/end_session")
    assert resp.status_code == 200 and "退出登录" in resp.get_data(as_text=True)
    assert platform.sessions.load(s.sid) is not None
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    done = client.post("/end_session", data={"confirm": "1", "csrf_token": csrf})
    assert done.status_code == 200 and platform.sessions.load(s.sid) is None


def test_unregistered_post_logout_redirect_is_not_followed(client, platform, citizen, posted):
    social, _ = _two_rps(platform)
    sign_in(client, platform, citizen)
    id_token = tokens(client, social, Pkce())["id_token"]
    resp = client.get("/end_session", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": "https://evil.example.com/"})
    assert resp.status_code == 200 and resp.location is None


def test_invalid_id_token_hint_gets_error_page(client, posted):
    resp = client.get("/end_session", query_string={"id_token_hint": "a.b.c"})
    assert resp.status_code == 400 and resp.location is None


def test_end_person_sessions_revokes_sessions_tokens_and_notifies(client, platform, citizen,
                                                                  posted):
    social, _ = _two_rps(platform)
    s = sign_in(client, platform, citizen)
    body = tokens(client, social, Pkce(), scope="openid offline_access")
    with platform.db.session() as session:
        person = session.get(Person, citizen.person_id)
        notices = logout.end_person_sessions(platform, session, person, "banned", actor="test")
    assert [n.client_id for n in notices] == [social.client_id]
    assert logout.send_notices(platform, notices) == []
    assert posted[0][0] == BCL
    assert platform.sessions.load(s.sid) is None
    assert introspect(client, social, body["access_token"])["active"] is False
    assert introspect(client, social, body["refresh_token"])["active"] is False


def test_failed_back_channel_delivery_is_reported(client, platform, citizen, monkeypatch):
    social, _ = _two_rps(platform)
    s = sign_in(client, platform, citizen)
    tokens(client, social, Pkce())

    def down(*args, **kwargs):
        raise requests.ConnectionError("refused")

    monkeypatch.setattr(logout.requests, "post", down)
    with platform.db.session() as session:
        notices = logout.end_browser_session(platform, session, s.sid, "test")
    assert logout.send_notices(platform, notices) == [social.client_id]
