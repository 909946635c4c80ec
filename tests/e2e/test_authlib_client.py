"""authlib's OAuth2Session (a real OIDC client library) against the running platform.

Authorization-code flow with PKCE S256 and client_secret_basic; the ID token is verified
with joserfc against the published JWKS (OIDC Core §3.1.3.7), userinfo is read with the
access token (OIDC Core §5.3).
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from demo.seed import DEMO_CITIZEN
from tests.e2e.stack import DemoStack, login_form

REDIRECT_URI = "http://127.0.0.1:9/callback"  # never fetched: the test stops at the redirect


@pytest.fixture(scope="module")
def registered(demo_stack: DemoStack) -> dict[str, str]:
    done = demo_stack.idp("clients", "create", "--name", "authlib e2e", "--redirect-uri",
                          REDIRECT_URI, "--grant-type", "authorization_code",
                          "--grant-type", "refresh_token", "--scope", "openid profile",
                          "--skip-consent", "--json")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def follow(browser: requests.Session, resp: requests.Response,
           prefix: str) -> tuple[str, requests.Response]:
    """Follow redirects by hand until one points at ``prefix``; return it and the last page."""
    for _ in range(10):
        location = resp.headers.get("Location")
        if location is None:
            return "", resp
        location = urljoin(resp.url, location)
        if location.startswith(prefix):
            return location, resp
        resp = browser.get(location, allow_redirects=False, timeout=20)
    raise AssertionError("redirect loop")


def authorize(url: str, identifier: str) -> str:
    """A fresh browser signs in with a password; return the redirect back to the client."""
    browser = requests.Session()
    callback, page = follow(browser, browser.get(url, allow_redirects=False, timeout=20),
                            REDIRECT_URI)
    if callback:
        return callback
    form = login_form(page)
    assert form is not None, page.text[:500]
    resp = browser.post(urljoin(page.url, form.action or page.url), allow_redirects=False,
                        timeout=20, data={**form.fields, "identifier": identifier,
                                          "password": DEMO_CITIZEN["password"]})
    callback, page = follow(browser, resp, REDIRECT_URI)
    assert callback, f"no redirect to the client; ended at {page.url} ({page.status_code})"
    return callback


def test_code_flow_with_pkce_and_verified_id_token(demo_stack: DemoStack,
                                                   registered: dict[str, str]) -> None:
    meta = requests.get(f"{demo_stack.issuer}/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == demo_stack.issuer
    assert "S256" in meta["code_challenge_methods_supported"]
    client = OAuth2Session(registered["client_id"], registered["client_secret"],
                           scope="openid profile", redirect_uri=REDIRECT_URI,
                           code_challenge_method="S256",
                           token_endpoint_auth_method="client_secret_basic")
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = client.create_authorization_url(meta["authorization_endpoint"],
                                                 code_verifier=verifier, nonce=nonce)
    callback = authorize(url, DEMO_CITIZEN["phone"])  # sign in by the bound phone number
    query = parse_qs(urlsplit(callback).query)
    assert query["state"] == [state]
    assert query["iss"] == [demo_stack.issuer]  # RFC 9207

    token = client.fetch_token(meta["token_endpoint"], authorization_response=callback,
                               code_verifier=verifier)
    jwks = requests.get(meta["jwks_uri"], timeout=10).json()
    id_token = jwt.decode(token["id_token"], KeySet.import_key_set(jwks))
    claims = id_token.claims
    assert id_token.header["alg"] == "ES256"
    assert claims["iss"] == demo_stack.issuer
    assert claims["aud"] in (registered["client_id"], [registered["client_id"]])
    assert claims["nonce"] == nonce
    assert claims["exp"] > time.time() > claims["iat"] - 60
    assert "pwd" in claims["amr"]

    info = client.get(meta["userinfo_endpoint"], timeout=10)
    assert info.status_code == 200 and info.json()["sub"] == claims["sub"]
    assert info.json()["name"] == "张*"


def test_wrong_pkce_verifier_is_refused(demo_stack: DemoStack,
                                        registered: dict[str, str]) -> None:
    meta = requests.get(f"{demo_stack.issuer}/.well-known/openid-configuration", timeout=10).json()
    client = OAuth2Session(registered["client_id"], registered["client_secret"],
                           scope="openid", redirect_uri=REDIRECT_URI,
                           code_challenge_method="S256")
    url, _ = client.create_authorization_url(meta["authorization_endpoint"],
                                             code_verifier=generate_token(48))
    callback = authorize(url, DEMO_CITIZEN["id_number"])
    code = parse_qs(urlsplit(callback).query)["code"][0]
    resp = requests.post(meta["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "code_verifier": generate_token(48)},
        auth=(registered["client_id"], registered["client_secret"]))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
