"""End to end with a real OAuth/OIDC client library (authlib's requests client, not our
code) against a running HTTP server (issue 2 acceptance)."""

from __future__ import annotations

import threading

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

from idp.accounts.sessions import COOKIE_NAME
from idp.serve import free_port
from tests.oidc.helpers import register, sign_in

PORT = free_port()
ISSUER = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def settings_overrides():
    return {"issuer": ISSUER}


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", PORT, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ISSUER
    server.shutdown()
    thread.join(5)
    server.server_close()


def test_authlib_client_completes_code_flow_against_running_server(live_server, client,
                                                                   platform, citizen):
    rp = register(platform, redirect_uris=["http://127.0.0.1/cb"])
    sso = sign_in(client, platform, citizen)
    meta = requests.get(f"{live_server}/.well-known/openid-configuration", timeout=5).json()

    session = OAuth2Session(rp.client_id, rp.secret, scope="openid profile",
                            redirect_uri="http://127.0.0.1/cb",
                            code_challenge_method="S256")
    verifier = "v" * 64
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce="n-1")
    assert create_s256_code_challenge(verifier) in url
    browser = requests.Session()
    browser.cookies.set(COOKIE_NAME, sso.sid, domain="127.0.0.1")
    answer = browser.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    token = session.fetch_token(meta["token_endpoint"], authorization_response=answer.headers[
        "Location"], code_verifier=verifier, state=state)

    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=5).json())
    claims = jwt.decode(token["id_token"], keys).claims
    assert claims["iss"] == ISSUER and claims["aud"] == rp.client_id
    assert claims["nonce"] == "n-1" and claims["sub"] == citizen.sub
    info = session.get(meta["userinfo_endpoint"], timeout=5).json()
    assert info == {"sub": citizen.sub, "name": "张*"}
