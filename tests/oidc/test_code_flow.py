"""The authorization code flow as a relying party sees it (OIDC Core §3.1; Basic OP plan)."""

from __future__ import annotations

from idp.accounts.sessions import public_sid
from tests.oidc.helpers import (
    Pkce,
    auth_params,
    authorize,
    get_code,
    query,
    redeem,
    register,
    sign_in,
    tokens,
    verify_id_token,
)


def test_code_flow_issues_signed_id_token_with_session_claims(client, platform, citizen):
    rp = register(platform)
    s = sign_in(client, platform, citizen, level=2, amr=["pwd", "otp"])
    pkce = Pkce()
    body = tokens(client, rp, pkce, nonce="abc123")
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert "refresh_token" not in body  # no offline_access asked
    claims = verify_id_token(client, rp, body["id_token"])
    assert claims["sub"] == citizen.sub
    assert claims["nonce"] == "abc123"
    assert claims["auth_time"] == s.auth_time
    assert claims["acr"] == "urn:idp:acr:realname:2"
    assert claims["amr"] == ["pwd", "otp"]
    # The session as the RP sees it: stable, but never the browser's session cookie.
    assert claims["sid"] == public_sid(platform.settings.secret_key, s.sid) != s.sid
    assert s.sid not in body["id_token"] + body["access_token"]
    assert "at_hash" in claims


def test_authorization_response_carries_iss_and_state(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen)
    params = auth_params(rp, Pkce())
    resp = authorize(client, params)
    got = query(resp.location)
    assert resp.location.startswith(rp.redirect_uri)
    assert got["iss"] == "http://localhost" and got["state"] == params["state"]


def test_post_authorization_request_works_like_get(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen)
    pkce = Pkce()
    resp = authorize(client, auth_params(rp, pkce), method="POST")
    assert resp.status_code == 302
    code = query(resp.location)["code"]
    assert redeem(client, rp, code, pkce).status_code == 200


def test_issuing_a_code_registers_the_client_with_the_session(client, platform, citizen):
    rp = register(platform)
    s = sign_in(client, platform, citizen)
    get_code(client, rp, Pkce())
    assert platform.sessions.clients(s.sid) == {rp.client_id}
