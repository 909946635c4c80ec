"""idp_connector without a platform: token checks, config, redirects, authority, sessions."""

from __future__ import annotations

import time
from typing import Any

import pytest
from idp_connector import (
    ConfigError,
    ConnectorConfig,
    LogoutTokenError,
    MemorySessionStore,
    SqliteSessionStore,
    TokenError,
    User,
    verify_id_token,
    verify_logout_token,
)
from idp_connector.handlers import safe_return_to
from idp_connector.tokens import BACKCHANNEL_EVENT
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

ISS, AUD = "https://idp.example.gov.cn", "client-1"
KEY = ECKey.generate_key("P-256", parameters={"kid": "k1", "alg": "ES256"})
OTHER = ECKey.generate_key("P-256", parameters={"kid": "k1", "alg": "ES256"})


def jwks(force: bool = False) -> dict[str, Any]:
    return KeySet([KEY]).as_dict(private=False)


def sign(claims: dict[str, Any], key: ECKey = KEY) -> str:
    return jwt.encode({"alg": "ES256", "kid": "k1"}, claims, key)


def logout_claims(**changes: Any) -> dict[str, Any]:
    base = {"iss": ISS, "aud": AUD, "iat": int(time.time()), "jti": "j1", "sid": "s1",
            "sub": "u1", "events": {BACKCHANNEL_EVENT: {}}}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def test_valid_logout_token() -> None:
    req = verify_logout_token(sign(logout_claims()), load_jwks=jwks, issuer=ISS, client_id=AUD)
    assert (req.sid, req.sub, req.jti) == ("s1", "u1", "j1")


@pytest.mark.parametrize(("changes", "reason"), [
    ({"iss": "https://evil.example"}, "wrong issuer"),
    ({"aud": "other"}, "wrong audience"),
    ({"iat": int(time.time()) - 3600}, "iat out of range"),
    ({"iat": None}, "iat missing"),
    ({"events": {}}, "events"),
    ({"nonce": "n"}, "nonce present"),
    ({"jti": None}, "jti missing"),
    ({"sid": None, "sub": None}, "neither sid nor sub"),
    ({"sid": ""}, "non-empty"),
])
def test_bad_logout_tokens(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(LogoutTokenError, match=reason):
        verify_logout_token(sign(logout_claims(**changes)), load_jwks=jwks, issuer=ISS,
                            client_id=AUD)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "x" * 20_000])
def test_malformed_logout_tokens(token: str) -> None:
    with pytest.raises(LogoutTokenError):
        verify_logout_token(token, load_jwks=jwks, issuer=ISS, client_id=AUD)


def test_logout_token_signed_by_another_key() -> None:
    with pytest.raises(LogoutTokenError, match="signature"):
        verify_logout_token(sign(logout_claims(), OTHER), load_jwks=jwks, issuer=ISS,
                            client_id=AUD)


def id_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISS, "aud": AUD, "sub": "u1", "iat": now, "exp": now + 600, "nonce": "n1"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(("changes", "reason"), [
    ({"nonce": "other"}, "nonce"),
    ({"nonce": None}, "nonce"),
    ({"iss": "https://evil.example"}, "issuer"),
    ({"aud": ["client-1", "client-2"]}, "authorized party"),
    ({"exp": int(time.time()) - 3600}, "expired"),
    ({"iat": int(time.time()) + 3600}, "future"),
    ({"sub": None}, "sub"),
])
def test_bad_id_tokens(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(TokenError, match=reason):
        verify_id_token(sign(id_claims(**changes)), load_jwks=jwks, issuer=ISS, client_id=AUD,
                        nonce="n1")


def test_unknown_kid_refetches_keys_once() -> None:
    calls: list[bool] = []

    def rotating(force: bool) -> dict[str, Any]:
        calls.append(force)
        old = ECKey.generate_key("P-256", parameters={"kid": "old", "alg": "ES256"})
        return jwks() if force else KeySet([old]).as_dict(private=False)

    claims = verify_id_token(sign(id_claims()), load_jwks=rotating, issuer=ISS, client_id=AUD,
                             nonce="n1")
    assert claims["sub"] == "u1" and calls == [False, True]


@pytest.mark.parametrize(("key", "reason"), [
    (None, "alg"), ({"kty": "EC", "alg": "none"}, "alg"),
    ({"kty": "EC", "alg": "ES256", "crv": "P-256", "x": "bad"}, "valid JWK"),
    (KEY.as_dict(private=False) | {"alg": "ES256"}, "private part"),
])
def test_bad_private_key(key: Any, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        ConnectorConfig(issuer=ISS, client_id="c", base_url="https://a", private_key=key,
                        token_endpoint_auth_method="private_key_jwt")


@pytest.mark.parametrize(("values", "reason"), [
    ({"IDP_CONNECTOR_ISSUER": ISS, "IDP_CONNECTOR_CLIENT_ID": "c"}, "BASE_URL"),
    ({"IDP_CONNECTOR_ISSUER": "idp.example", "IDP_CONNECTOR_CLIENT_ID": "c",
      "IDP_CONNECTOR_BASE_URL": "https://a", "IDP_CONNECTOR_CLIENT_SECRET": "s"}, "issuer"),
    ({"IDP_CONNECTOR_ISSUER": ISS, "IDP_CONNECTOR_CLIENT_ID": "c",
      "IDP_CONNECTOR_BASE_URL": "https://a"}, "client_secret"),
    ({"IDP_CONNECTOR_ISSUER": ISS, "IDP_CONNECTOR_CLIENT_ID": "c", "IDP_CONNECTOR_SCOPE": "x",
      "IDP_CONNECTOR_BASE_URL": "https://a", "IDP_CONNECTOR_CLIENT_SECRET": "s"}, "openid"),
    ({"IDP_CONNECTOR_ISSUER": ISS, "IDP_CONNECTOR_CLIENT_ID": "c",
      "IDP_CONNECTOR_BASE_URL": "https://a", "IDP_CONNECTOR_CLIENT_SECRET": "s",
      "IDP_CONNECTOR_SESSION_LIFETIME": "long"}, "number"),
])
def test_bad_config(values: dict[str, str], reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        ConnectorConfig.from_mapping(values)


@pytest.mark.parametrize(("value", "expected"), [
    ("/profile?x=1", "/profile?x=1"), (None, "/"), ("https://evil.example/", "/"),
    ("//evil.example/", "/"), ("/\\evil.example", "/"), ("profile", "/"),
])
def test_return_to_stays_on_site(value: str | None, expected: str) -> None:
    assert safe_return_to(value) == expected


@pytest.mark.parametrize("acr,level", [("urn:idp:acr:realname:2", 2), ("urn:idp:acr:realname:9",
                                       None), ("loa-2", None), (None, None)])
def test_level_from_acr(acr: str | None, level: int | None) -> None:
    assert User({"sub": "u", "acr": acr}).level == level


@pytest.mark.parametrize("make", [lambda p: MemorySessionStore(),
                                  lambda p: SqliteSessionStore(p / "s.sqlite3")])
def test_session_stores_end_by_sid_and_sub_and_refuse_replays(make: Any, tmp_path: Any) -> None:
    store = make(tmp_path)
    a = store.create(sid="s1", sub="u1", data={"claims": {"sub": "u1"}})
    b = store.create(sid="s2", sub="u1", data={"claims": {"sub": "u1"}})
    c = store.create(sid="s3", sub="u2", data={"claims": {"sub": "u2"}})
    assert store.end_for(sid="s1", sub="other") == 0  # both given: both must match
    assert store.end_for(sid="s1", sub="u1") == 1 and store.get(a) is None
    assert store.end_for(sid=None, sub="u1") == 1 and store.get(b) is None
    assert store.get(c) == {"claims": {"sub": "u2"}}
    assert store.first_use_of_jti("j", time.time() + 60) is True
    assert store.first_use_of_jti("j", time.time() + 60) is False
