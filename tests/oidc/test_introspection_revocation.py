"""Introspection (RFC 7662) and revocation (RFC 7009), also of tokens obtained by exchange
(RFC 8693): revoking a token revokes every token exchanged from it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from idp.accounts.sessions import public_sid
from tests.oidc.helpers import Pkce, exchange, introspect, register, sign_in, tokens


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


# -- tokens obtained by exchange (RFC 8693) ---------------------------------------------------


@pytest.fixture
def chain(client, platform, citizen) -> SimpleNamespace:
    """A person's token at R, exchanged for T, and that one exchanged again for U."""
    from idp.oidc.clients import TOKEN_EXCHANGE

    u = register(platform, name="公积金服务", redirect_uris=["https://gjj.example.gov.cn/cb"])
    t = register(platform, name="住建服务", redirect_uris=["https://zj.example.gov.cn/cb"],
                 grant_types=["authorization_code", TOKEN_EXCHANGE],
                 exchange_audiences=[u.client_id])
    r = register(platform, grant_types=["authorization_code", "refresh_token", TOKEN_EXCHANGE],
                 exchange_audiences=[t.client_id])
    sign_in(client, platform, citizen)
    held = tokens(client, r, Pkce(), scope="openid profile offline_access")
    first = exchange(client, r, held["access_token"], audience=t.client_id).get_json()
    second = exchange(client, t, first["access_token"], audience=u.client_id).get_json()
    return SimpleNamespace(r=r, t=t, u=u, held=held, first=first["access_token"],
                           second=second["access_token"])


def _alive(client, chain: SimpleNamespace) -> tuple[bool, bool]:
    """Whether the first and the second exchanged token are still honoured, as seen by
    their audiences' introspection and by userinfo (which must agree)."""
    found = []
    for rp, token in ((chain.t, chain.first), (chain.u, chain.second)):
        active = introspect(client, rp, token)["active"]
        status = client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert (status.status_code == 200) is active
        found.append(active)
    return found[0], found[1]


@pytest.mark.parametrize(("revoker", "token", "alive"), [
    pytest.param("r", "held.access_token", (False, False), id="subject-token-by-requester"),
    pytest.param("r", "held.refresh_token", (False, False), id="subject-grant-by-requester"),
    pytest.param("r", "first", (False, False), id="exchanged-token-by-requester"),
    pytest.param("t", "first", (False, False), id="exchanged-token-by-target"),
    pytest.param("t", "second", (True, False), id="re-exchanged-token-by-requester"),
    pytest.param("u", "second", (True, False), id="re-exchanged-token-by-target"),
    pytest.param("u", "first", (True, True), id="exchanged-token-by-a-stranger"),
    pytest.param("u", "held.access_token", (True, True), id="subject-token-by-a-stranger"),
])
def test_revocation_reaches_every_token_exchanged_from_it(client, chain, revoker, token,
                                                          alive):
    assert _alive(client, chain) == (True, True)
    value: object = chain
    for part in token.split("."):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    resp = client.post("/revoke", data={"token": value}, headers=getattr(chain,
                                                                          revoker).basic())
    if alive == (True, True):  # RFC 7009 §2.1: not the caller's token: refused, untouched
        assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"
    else:
        assert resp.status_code == 200
    assert _alive(client, chain) == alive
