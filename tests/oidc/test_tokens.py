"""Token endpoint behaviours: PKCE, code reuse, redirect checks, client auth, refresh."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.oidc.helpers import (
    REDIRECT,
    Pkce,
    auth_params,
    authorize,
    get_code,
    introspect,
    query,
    redeem,
    register,
    sign_in,
    tokens,
)


@pytest.fixture
def rp(platform):
    return register(platform)


@pytest.fixture
def signed_in(client, platform, citizen):
    return sign_in(client, platform, citizen)


def test_valid_pkce_succeeds(client, rp, signed_in):
    pkce = Pkce()
    assert redeem(client, rp, get_code(client, rp, pkce), pkce).status_code == 200


def test_wrong_pkce_verifier_fails(client, rp, signed_in):
    code = get_code(client, rp, Pkce())
    resp = redeem(client, rp, code, Pkce())
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"


def test_pkce_downgrade_fails(client, rp, signed_in):
    code = get_code(client, rp, Pkce())
    resp = redeem(client, rp, code)  # no code_verifier
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("method", ["plain", None])
def test_pkce_other_than_s256_is_refused(client, rp, signed_in, method):
    params = auth_params(rp, code_challenge="a" * 43, code_challenge_method=method)
    got = query(authorize(client, params).location)
    assert got["error"] == "invalid_request"


def test_public_client_must_use_pkce(client, platform, signed_in):
    public = register(platform, public=True)
    got = query(authorize(client, auth_params(public)).location)
    assert got["error"] == "invalid_request"
    pkce = Pkce()
    assert redeem(client, public, get_code(client, public, pkce), pkce).status_code == 200


def test_reused_code_is_refused_and_its_tokens_revoked(client, platform, signed_in):
    rp = register(platform)
    pkce = Pkce()
    code = get_code(client, rp, pkce, scope="openid profile offline_access")
    first = redeem(client, rp, code, pkce).get_json()
    assert introspect(client, rp, first["access_token"])["active"] is True
    again = redeem(client, rp, code, pkce)
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    assert introspect(client, rp, first["access_token"])["active"] is False
    assert introspect(client, rp, first["refresh_token"])["active"] is False
    refreshed = client.post("/token", headers=rp.basic(), data={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert refreshed.get_json()["error"] == "invalid_grant"


def test_code_of_another_client_is_refused(client, platform, signed_in):
    rp, other = register(platform), register(platform)
    pkce = Pkce()
    code = get_code(client, rp, pkce)
    assert redeem(client, other, code, pkce).get_json()["error"] == "invalid_grant"


def test_unregistered_redirect_uri_gets_error_page_and_no_redirect(client, rp, signed_in):
    params = auth_params(rp, Pkce(), redirect_uri="https://evil.example.com/cb")
    resp = authorize(client, params)
    assert resp.status_code == 400 and resp.location is None
    assert "回调地址未登记" in resp.get_data(as_text=True)


def test_unknown_client_gets_error_page(client, platform):
    resp = client.get("/authorize", query_string={"client_id": "nobody", "response_type": "code",
                                                  "redirect_uri": REDIRECT})
    assert resp.status_code == 400 and resp.location is None


def test_disabled_client_is_refused_everywhere(client, platform, rp, signed_in):
    from idp.oidc import clients

    with platform.db.session() as session:
        clients.disable(session, rp.client_id, actor="test")
    assert authorize(client, auth_params(rp, Pkce())).status_code == 400
    resp = client.post("/token", headers=rp.basic(), data={"grant_type": "client_credentials"})
    assert resp.status_code == 401


def test_client_secret_post(client, platform, signed_in):
    rp = register(platform, token_endpoint_auth_method="client_secret_post")
    pkce = Pkce()
    code = get_code(client, rp, pkce)
    resp = client.post("/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": pkce.verifier, "client_id": rp.client_id, "client_secret": rp.secret})
    assert resp.status_code == 200 and "id_token" in resp.get_json()


def test_wrong_secret_is_401_with_www_authenticate(client, rp):
    rp.secret = "wrong"
    resp = client.post("/token", headers=rp.basic(), data={"grant_type": "client_credentials"})
    assert resp.status_code == 401 and resp.get_json()["error"] == "invalid_client"
    assert "Basic" in resp.headers["WWW-Authenticate"]


def test_private_key_jwt(client, platform, signed_in):
    key = ECKey.generate_key("P-256", private=True)
    jwks = {"keys": [{**key.as_dict(private=False), "kid": "rp1"}]}
    rp = register(platform, token_endpoint_auth_method="private_key_jwt", jwks=jwks)
    assert rp.secret is None

    def assertion(jti: str) -> str:
        now = int(time.time())
        return jwt.encode({"alg": "ES256", "kid": "rp1"},
                          {"iss": rp.client_id, "sub": rp.client_id, "jti": jti,
                           "aud": "http://localhost/token", "iat": now, "exp": now + 60}, key)

    pkce = Pkce()
    data = {"grant_type": "authorization_code", "code": get_code(client, rp, pkce),
            "redirect_uri": rp.redirect_uri, "code_verifier": pkce.verifier,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion("j1")}
    assert client.post("/token", data=data).status_code == 200
    data["code"] = get_code(client, rp, pkce)
    replay = client.post("/token", data=data)  # same jti again
    assert replay.get_json()["error"] == "invalid_client"


def test_refresh_rotates_and_reuse_revokes_family(client, rp, signed_in):
    first = tokens(client, rp, Pkce(), scope="openid offline_access")
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = client.post("/token", headers=rp.basic(), data=data).get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert introspect(client, rp, second["access_token"])["active"] is True
    reuse = client.post("/token", headers=rp.basic(), data=data)
    assert reuse.get_json()["error"] == "invalid_grant"
    assert introspect(client, rp, second["refresh_token"])["active"] is False
    assert introspect(client, rp, second["access_token"])["active"] is False


def test_refresh_token_bound_to_its_client(client, platform, rp, signed_in):
    other = register(platform)
    first = tokens(client, rp, Pkce(), scope="openid offline_access")
    resp = client.post("/token", headers=other.basic(), data={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert resp.get_json()["error"] == "invalid_grant"
    ok = client.post("/token", headers=rp.basic(), data={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert ok.status_code == 200  # the other client's attempt did not burn it


def test_refresh_token_only_with_offline_access(client, rp, signed_in):
    assert "refresh_token" not in tokens(client, rp, Pkce(), scope="openid profile")


def test_client_credentials(client, platform):
    rp = register(platform, grant_types=["client_credentials"], redirect_uris=[],
                  scope="openid")
    resp = client.post("/token", headers=rp.basic(), data={"grant_type": "client_credentials"})
    body = resp.get_json()
    assert resp.status_code == 200 and "refresh_token" not in body and "id_token" not in body
    assert introspect(client, rp, body["access_token"])["sub"] == rp.client_id
    bad = client.post("/token", headers=rp.basic(), data={"grant_type": "client_credentials",
                                                           "scope": "openid"})
    assert bad.get_json()["error"] == "invalid_scope"


def test_request_object_is_refused(client, rp, signed_in):
    got = query(authorize(client, auth_params(rp, Pkce(), request="x.y.z")).location)
    assert got["error"] == "request_not_supported"
    got = query(authorize(client, auth_params(rp, Pkce(),
                                              request_uri="https://rp/r")).location)
    assert got["error"] == "request_uri_not_supported"


def test_unknown_parameters_are_ignored(client, rp, signed_in):
    assert get_code(client, rp, Pkce(), frobnicate="1", display="touch")


def test_scopes_outside_client_registration_are_dropped(client, rp, signed_in):
    body = tokens(client, rp, Pkce(), scope="openid idcard profile")
    assert body["scope"] == "openid profile"
