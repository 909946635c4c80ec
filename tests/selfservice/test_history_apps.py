"""Login history (own events only, coarse addresses) and authorised applications."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.accounts.history import coarse_address
from idp.audit.models import AuditRecord
from tests.oidc.helpers import Pkce, auth_params, authorize, register, sign_in, tokens
from tests.selfservice.conftest import BCL, page_post

OTHER = dict(id_number="11010519491231002X", name="李四", phone="13700137000",
             password="Li4-Passw0rd!")


@pytest.mark.parametrize("address, coarse", [
    ("203.0.113.57", "203.0.113.*"), ("::ffff:198.51.100.9", "198.51.100.*"),
    ("2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3:*"), ("", "-"), ("not-an-ip", "-"),
])
def test_coarse_address(address, coarse):
    assert coarse_address(address) == coarse


def _login(client, identifier: str, password: str, env: dict):  # type: ignore[no-untyped-def]
    return page_post(client, "/login", {"identifier": identifier, "password": password},
                     environ_base=env)


def test_history_shows_own_events_only(app, platform, citizen, make_citizen):
    other = make_citizen(**OTHER)
    mine = app.test_client()
    theirs = app.test_client()
    env = {"REMOTE_ADDR": "203.0.113.57"}
    assert _login(mine, citizen.id_number, "Wrong-Passw0rd", env).status_code == 401
    assert _login(mine, citizen.id_number, citizen.password, env).status_code == 302
    assert _login(theirs, other.id_number, other.password,
                  {"REMOTE_ADDR": "198.51.100.9"}).status_code == 302
    html = mine.get("/account/history", environ_base=env).get_data(as_text=True)
    assert html.count("<tr>") - 1 == 2  # header row + my failure + my success
    assert "203.0.113.*" in html and "203.0.113.57" not in html
    assert "198.51.100" not in html  # the other person's sign-in is not mine to see
    assert "登录失败" in html and "密码" in html


def _consent(client, rp, scope: str) -> None:
    resp = authorize(client, auth_params(rp, Pkce(), scope=scope))
    assert resp.status_code == 200, resp.location
    tx = resp.get_data(as_text=True).split('name="tx" value="')[1].split('"')[0]
    page_post(client, "/authorize/consent", {"tx": tx, "decision": "allow"})


def test_apps_list_and_revoke(client, platform, citizen, posted):
    rp = register(platform, name="公积金服务", skip_consent=False, backchannel_logout_uri=BCL)
    s = sign_in(client, platform, citizen)
    _consent(client, rp, "openid profile offline_access")
    got = tokens(client, rp, Pkce(), scope="openid profile offline_access")
    html = client.get("/account/apps").get_data(as_text=True)
    assert "公积金服务" in html and "基本资料(脱敏姓名)" in html
    assert "在您离线时继续访问上述信息" in html

    resp = page_post(client, "/account/apps/revoke", {"client_id": rp.client_id})
    assert resp.status_code == 302 and "revoked=1" in resp.location
    assert "公积金服务" not in client.get("/account/apps").get_data(as_text=True)
    refreshed = client.post("/token", headers=rp.basic(), data={
        "grant_type": "refresh_token", "refresh_token": got["refresh_token"]})
    assert refreshed.status_code == 400  # refresh token refused
    assert client.post("/introspect", data={"token": got["access_token"]},
                       headers=rp.basic()).get_json()["active"] is False
    again = authorize(client, auth_params(rp, Pkce(), scope="openid profile"))
    assert again.status_code == 200 and "授权确认" in again.get_data(as_text=True)
    assert [url for url, _ in posted] == [BCL]  # the app is logged out of the session
    assert platform.sessions.load(s.sid) is not None  # the person's own session continues
    with platform.db.session() as db:
        row = db.scalars(select(AuditRecord).where(
            AuditRecord.action == "oidc:grant:revoke")).one()
        assert row.target == f"client:{rp.client_id}" and row.details["consent"] is True


@pytest.mark.parametrize("client_id", ["", "no-such-client", "x" * 65, "gov-app"])
def test_revoking_nothing_is_not_found(client, platform, citizen, client_id):
    sign_in(client, platform, citizen)
    resp = page_post(client, "/account/apps/revoke", {"client_id": client_id})
    assert resp.status_code == 404


def test_cannot_revoke_another_persons_grant(app, platform, citizen, make_citizen, posted):
    other = make_citizen(**OTHER)
    rp = register(platform, skip_consent=False)
    theirs = app.test_client()
    sign_in(theirs, platform, other)
    _consent(theirs, rp, "openid profile")
    mine = app.test_client()
    sign_in(mine, platform, citizen)
    assert page_post(mine, "/account/apps/revoke", {"client_id": rp.client_id}).status_code == 404
    assert rp.client_id in theirs.get("/account/apps").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/account/phone", "/account/history", "/account/apps"])
def test_pages_english_and_no_inline_code(client, platform, citizen, path):
    sign_in(client, platform, citizen)
    resp = client.get(path + "?lang=en")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'lang="en"' in html
    assert "<script" not in html and "style=" not in html and "<style" not in html
    assert "default-src" in resp.headers.get("Content-Security-Policy", "")


def test_forgot_page_in_english(client):
    html = client.get("/password/forgot?lang=en").get_data(as_text=True)
    assert "we will send a code to the account's bound phone" in html
