"""Discovery, JWKS and signing-key rotation (OIDC Discovery §3, issue 2 item 5)."""

from __future__ import annotations

from joserfc import jwt

from idp.oidc import keys
from idp.oidc.runtime import keyring
from tests.oidc.helpers import Pkce, introspect, jwks, register, sign_in, tokens, verify_id_token


def test_discovery_document(client):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["issuer"] == "http://localhost"
    assert meta["authorization_endpoint"] == "http://localhost/authorize"
    assert meta["jwks_uri"] == "http://localhost/jwks"
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["request_parameter_supported"] is False
    assert {"openid", "profile", "phone", "realname", "idcard", "offline_access"} <= set(
        meta["scopes_supported"])
    assert {"client_secret_basic", "client_secret_post", "private_key_jwt"} <= set(
        meta["token_endpoint_auth_methods_supported"])
    assert set(meta["subject_types_supported"]) == {"public", "pairwise"}


def test_jwks_publishes_only_public_keys(client):
    data = client.get("/jwks").get_json()
    assert data == client.get("/.well-known/jwks.json").get_json()
    assert data["keys"] and all("d" not in k and k["kid"] for k in data["keys"])
    assert data["keys"][0]["alg"] == "ES256"


def test_rs256_client_gets_rs256_id_token(client, platform, citizen):
    rp = register(platform, id_token_signed_response_alg="RS256")
    sign_in(client, platform, citizen)
    id_token = tokens(client, rp, Pkce())["id_token"]
    assert jwt.decode(id_token, jwks(client)).header["alg"] == "RS256"
    assert verify_id_token(client, rp, id_token)["sub"] == citizen.sub


def test_rotation_keeps_old_key_published_and_tokens_valid(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen)
    before = tokens(client, rp, Pkce())
    old_kid = jwt.decode(before["id_token"], jwks(client)).header["kid"]
    with platform.db.session() as session:
        new = keys.rotate(session, platform.protector, "ES256", overlap=900)
    keyring(platform).reload()  # other processes pick it up within keys.CACHE_SECONDS
    published = {k["kid"] for k in client.get("/jwks").get_json()["keys"]}
    assert {old_kid, new.kid} <= published
    after = tokens(client, rp, Pkce())
    assert jwt.decode(after["id_token"], jwks(client)).header["kid"] == new.kid
    assert introspect(client, rp, before["access_token"])["active"] is True
    with platform.db.session() as session:
        assert keys.prune(session) == 0  # still within its overlap


def test_retired_key_leaves_jwks_after_overlap(client, platform):
    old_kid = client.get("/jwks").get_json()["keys"][0]["kid"]
    with platform.db.session() as session:
        keys.rotate(session, platform.protector, "ES256", overlap=-1)
        assert keys.prune(session) == 1
    keyring(platform).reload()
    assert old_kid not in {k["kid"] for k in client.get("/jwks").get_json()["keys"]}


def test_token_signed_by_key_rotated_in_another_process_is_accepted(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen)
    keyring(platform).jwks()  # this process has cached the current keys
    from idp.oidc.keys import KeyRing

    other_process = KeyRing(platform.db, platform.protector, "ES256")
    with platform.db.session() as session:
        keys.rotate(session, platform.protector, "ES256", overlap=900)
    other_process.reload()
    at = tokens(client, rp, Pkce())["access_token"]  # signed here with the cached key
    assert introspect(client, rp, at)["active"] is True


def test_a_remembered_signature_ends_with_its_key(client, platform, citizen, monkeypatch):
    """Userinfo remembers a token whose signature it has checked (tokens.py `_decode`): the
    second request skips the ECDSA check — and once the key that signed it is withdrawn,
    the token is refused again, remembered or not."""
    from idp.oidc import compact

    rp = register(platform)
    sign_in(client, platform, citizen)
    at = tokens(client, rp, Pkce())["access_token"]
    checks: list[str] = []
    real_verify = compact.verify
    monkeypatch.setattr(compact, "verify", lambda t, k: checks.append(t) or real_verify(t, k))
    bearer = {"Authorization": f"Bearer {at}"}
    assert client.get("/userinfo", headers=bearer).status_code == 200
    assert client.get("/userinfo", headers=bearer).status_code == 200
    assert checks == [at]  # checked once, remembered after
    forged = at[:-6] + ("AAAAAA" if not at.endswith("AAAAAA") else "BBBBBB")
    assert client.get("/userinfo", headers={"Authorization": f"Bearer {forged}"}
                      ).status_code == 401  # another token string: checked, and refused
    with platform.db.session() as session:
        keys.rotate(session, platform.protector, "ES256", overlap=-1)
        assert keys.prune(session) == 1  # the key that signed `at` is withdrawn
    keyring(platform).reload()
    assert client.get("/userinfo", headers=bearer).status_code == 401
