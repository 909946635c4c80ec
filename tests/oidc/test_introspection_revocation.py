"""Introspection (RFC 7662) and revocation (RFC 7009)."""

from __future__ import annotations

from idp.accounts.sessions import public_sid
from tests.oidc.helpers import Pkce, introspect, register, sign_in, tokens


def test_introspection_of_live_access_token(client, platform, citizen):
    rp = register(platform)
    s = sign_in(client, platform, citizen)
    at = tokens(client, rp, Pkce())["access_token"]
    info = introspect(client, rp, at)
    assert info["active"] is True and info["client_id"] == rp.client_id
    assert info["sub"] == citizen.sub and "openid" in info["scope"]
    assert info["sid"] == public_sid(platform.settings.secret_key, s.sid)


def test_introspection_by_another_client_is_inactive(client, platform, citizen):
    rp, other = register(platform), register(platform)
    sign_in(client, platform, citizen)
    at = tokens(client, rp, Pkce())["access_token"]
    assert introspect(client, other, at) == {"active": False}


def test_introspection_needs_client_authentication(client):
    resp = client.post("/introspect", data={"token": "x"})
    assert resp.status_code == 401 and resp.get_json()["error"] == "invalid_client"


def test_revoked_access_token_is_inactive(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen)
    at = tokens(client, rp, Pkce())["access_token"]
    resp = client.post("/revoke", data={"token": at}, headers=rp.basic())
    assert resp.status_code == 200
    assert introspect(client, rp, at)["active"] is False
    assert client.get("/userinfo", headers={"Authorization": f"Bearer {at}"}).status_code == 401


def test_revoking_refresh_token_revokes_its_grant(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen)
    body = tokens(client, rp, Pkce(), scope="openid offline_access")
    client.post("/revoke", data={"token": body["refresh_token"],
                                 "token_type_hint": "refresh_token"}, headers=rp.basic())
    assert introspect(client, rp, body["refresh_token"])["active"] is False
    assert introspect(client, rp, body["access_token"])["active"] is False


def test_revoking_unknown_token_is_ok(client, platform):
    rp = register(platform)
    assert client.post("/revoke", data={"token": "nothing"}, headers=rp.basic()).status_code == 200
