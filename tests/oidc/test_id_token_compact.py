"""ID tokens signed by compact.py, and authorization codes drawn in one read of the CSPRNG
(idp/oidc/code.py; bench/README.md round 6): the same tokens and codes as authlib's paths
(OIDC Core §2, §3.1.3.6; RFC 6749 §10.10)."""

from __future__ import annotations

import base64
import json
import string
import time
from typing import Any

import pytest
from authlib.oidc.core.grants.code import OpenIDToken
from joserfc import jwt

from idp.oidc.code import OpenIDCode, new_code
from idp.oidc.codes import AuthorizationCode
from tests.oidc.helpers import Pkce, jwks, register, sign_in, tokens, verify_id_token


def _part(token: str, index: int) -> bytes:
    text = token.split(".")[index]
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Client:
    client_id = "rp-1"

    def __init__(self, alg: str | None) -> None:
        self.id_token_signed_response_alg = alg

    def get_client_id(self) -> str:
        return self.client_id


def _code() -> AuthorizationCode:
    return AuthorizationCode(client_id="rp", redirect_uri="https://rp.example/cb",
                             scope="openid", person_id=1, epoch=0, sid="browser-session",
                             auth_time=1_700_000_000, acr="urn:idp:acr:realname:2",
                             amr=["pwd", "otp"], nonce="n-0S6_WzA2Mj")


class _User:
    sub = "sub-123"
    acting = None


class _Request:
    def __init__(self, alg: str | None) -> None:
        self.client = _Client(alg)
        self.authorization_code = _code()
        self.user = _User()


@pytest.mark.parametrize("alg", [None, "ES256", "RS256"])
def test_same_claims_as_authlibs_encoding(app, monkeypatch, alg):
    """Byte for byte the payload authlib/joserfc would sign; the header has the same three
    parameters; both verify against the published keys."""
    monkeypatch.setattr(time, "time", lambda: 1_700_000_123.5)
    grant = OpenIDCode(app.extensions["oidc"])
    token: dict[str, Any] = {"access_token": "header.payload.signature", "scope": "openid"}
    with app.test_request_context("/"):
        ours = grant.encode_id_token(token, _Request(alg))
        theirs = OpenIDToken.encode_id_token(grant, token, _Request(alg))
        public = app.extensions["oidc"].keys.public_keys()
    assert _part(ours, 1) == _part(theirs, 1)
    assert json.loads(_part(ours, 0)) == json.loads(_part(theirs, 0))
    assert json.loads(_part(ours, 0))["typ"] == "JWT"
    for signed in (ours, theirs):
        claims = jwt.decode(signed, public, algorithms=["ES256", "RS256"]).claims
        assert claims["at_hash"] and claims["sub"] == "sub-123" and claims["amr"] == ["pwd", "otp"]


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_flow_id_token_verifies_with_the_jwks(client, platform, citizen, alg):
    rp = register(platform, id_token_signed_response_alg=alg)
    sign_in(client, platform, citizen)
    body = tokens(client, rp, Pkce(), nonce="xyz")
    claims = verify_id_token(client, rp, body["id_token"])
    assert claims["nonce"] == "xyz" and claims["sub"] == citizen.sub
    header = jwt.decode(body["id_token"], jwks(client)).header
    assert header["alg"] == alg and header["typ"] == "JWT" and set(header) == {
        "alg", "typ", "kid"}


def test_codes_look_like_authlibs():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    alphabet = set(string.ascii_letters + string.digits)
    assert all(len(c) == 48 and set(c) <= alphabet for c in codes)
    # Every character in use, none overweight (uniform: ≈ 1548 each of 96 000).
    counts = {ch: 0 for ch in alphabet}
    for c in codes:
        for ch in c:
            counts[ch] += 1
    assert min(counts.values()) > 1200 and max(counts.values()) < 1900
