"""The simulated trusted platform as a real OIDC upstream (R-12): code flow end to end."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.realname.sources import (
    AuthorityRejected,
    AuthorityUnavailable,
    OidcTrustedPlatform,
    TrustedPlatformConfig,
)
from simulator import create_app
from tests.simulator.server import Running, running

CLIENT, SECRET = "idp-linked", "linked-test-secret"
REDIRECT = "http://127.0.0.1:5000/register/linked/callback"
P01_NUMBER = "110101198503120017"


@pytest.fixture(scope="module")
def simulator() -> Iterator[Running]:
    app = create_app(oidc_clients={CLIENT: SECRET}, slow_seconds=4.0)
    with running(app) as server:
        yield server


@pytest.fixture(autouse=True)
def reset_modes(simulator: Running) -> Iterator[None]:
    yield
    simulator.sim.modes.set("all", "ok")


def config(simulator: Running, **overrides: object) -> TrustedPlatformConfig:
    values = dict(issuer=simulator.url + "/oidc", client_id=CLIENT, client_secret=SECRET,
                  read_timeout=2.0)
    values.update(overrides)
    return TrustedPlatformConfig(**values)  # type: ignore[arg-type]


def follow(url: str, **kwargs: object) -> dict[str, str]:
    """Load the authorize URL as a browser would and read the redirect's query."""
    resp = requests.get(url, allow_redirects=False, timeout=2, **kwargs)  # type: ignore[arg-type]
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_authlib_client_runs_a_code_flow(simulator):
    meta = requests.get(simulator.url + "/oidc/.well-known/openid-configuration", timeout=2).json()
    session = OAuth2Session(CLIENT, SECRET, scope="openid realname", redirect_uri=REDIRECT,
                            code_challenge_method="S256")
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, login_hint="P02")
    answer = follow(url)
    assert answer["state"] == state
    token = session.fetch_token(meta["token_endpoint"], code=answer["code"],
                                code_verifier=verifier)
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=2).json())
    claims = jwt.decode(token["id_token"], keys, algorithms=["ES256"]).claims
    assert claims["iss"] == meta["issuer"] and claims["aud"] == CLIENT
    assert (claims["nonce"], claims["name"], claims["acr"]) == (nonce, "王芳", "loa-2")
    info = session.get(meta["userinfo_endpoint"], timeout=2).json()
    assert info["id_document_number"] == "31010119900521002X" and info["sub"] == claims["sub"]


def start(platform: OidcTrustedPlatform, hint: str | None = "P01") -> tuple[dict[str, str], str]:
    verifier, nonce = secrets.token_urlsafe(48), "n-" + secrets.token_hex(8)
    url = platform.authorization_url(REDIRECT, state="s1", nonce=nonce, code_verifier=verifier,
                                     login_hint=hint)
    answer = follow(url)
    assert answer["state"] == "s1"
    return {"code": answer["code"], "verifier": verifier}, nonce


def test_platform_client_returns_the_linked_identity(simulator):
    platform = OidcTrustedPlatform(config(simulator))
    grant, nonce = start(platform, hint=P01_NUMBER)
    identity = platform.complete(grant["code"], REDIRECT, nonce=nonce,
                                 code_verifier=grant["verifier"])
    assert (identity.name, identity.document_type, identity.document_number) == (
        "张伟", "resident_id", P01_NUMBER)
    assert (identity.subject, identity.acr, identity.phone) == ("tp-p01", "loa-3", "13800138001")
    assert identity.issuer == simulator.url + "/oidc"


@pytest.mark.parametrize(("tamper", "code"), [
    (lambda g, n: (g["code"], n, "wrong-verifier-" + "x" * 40), "invalid_grant"),
    (lambda g, n: ("not-a-code", n, g["verifier"]), "invalid_grant"),
    (lambda g, n: (g["code"], "another-nonce", g["verifier"]), "invalid_id_token"),
    (lambda g, n: ("", n, g["verifier"]), "invalid_request"),
])
def test_platform_client_refuses_bad_completions(simulator, tamper, code):
    platform = OidcTrustedPlatform(config(simulator))
    grant, nonce = start(platform)
    got_code, got_nonce, verifier = tamper(grant, nonce)
    with pytest.raises(AuthorityRejected) as info:
        platform.complete(got_code, REDIRECT, nonce=got_nonce, code_verifier=verifier)
    assert info.value.code == code


def test_code_is_single_use(simulator):
    platform = OidcTrustedPlatform(config(simulator))
    grant, nonce = start(platform)
    platform.complete(grant["code"], REDIRECT, nonce=nonce, code_verifier=grant["verifier"])
    with pytest.raises(AuthorityRejected, match="invalid_grant"):
        platform.complete(grant["code"], REDIRECT, nonce=nonce, code_verifier=grant["verifier"])


def test_wrong_client_secret_is_rejected(simulator):
    platform = OidcTrustedPlatform(config(simulator, client_secret="wrong"))
    grant, nonce = start(platform)
    with pytest.raises(AuthorityRejected) as info:
        platform.complete(grant["code"], REDIRECT, nonce=nonce, code_verifier=grant["verifier"])
    assert info.value.code == "invalid_client"


def test_issuer_mismatch_in_discovery_is_rejected():
    # OIDC Discovery §4.3: the metadata must name the issuer we asked.
    app = create_app(issuer="https://impostor.example/oidc", oidc_clients={CLIENT: SECRET})
    with running(app) as other:
        platform = OidcTrustedPlatform(config(other))
        with pytest.raises(AuthorityRejected) as info:
            platform.metadata()
    assert info.value.code == "issuer_mismatch"


@pytest.mark.parametrize(("mode", "code"), [("down", "temporarily_unavailable"),
                                            ("slow", "timeout")])
def test_failing_platform_is_unavailable(simulator, mode, code):
    simulator.sim.modes.set("trusted_platform", mode)
    with pytest.raises(AuthorityUnavailable) as info:
        OidcTrustedPlatform(config(simulator)).metadata()
    assert info.value.code == code


def test_without_hint_the_platform_shows_a_form_that_approves(simulator):
    platform = OidcTrustedPlatform(config(simulator))
    url = platform.authorization_url(REDIRECT, state="s2", nonce="n", code_verifier="v" * 43)
    page = requests.get(url, timeout=2)
    assert page.status_code == 200 and "tp-p03" in page.text
    query = parse_qs(urlsplit(url).query)
    form = {k: v[0] for k, v in query.items()} | {"person": "tp-p03"}
    resp = requests.post(url.split("?")[0], data=form, allow_redirects=False, timeout=2)
    assert resp.status_code == 302 and "code=" in resp.headers["Location"]


@pytest.mark.parametrize(("params", "status", "error"), [
    ({"login_hint": "P10"}, 302, "access_denied"),  # deceased person cannot sign in
    ({"response_type": "token"}, 302, "unsupported_response_type"),
    ({"scope": "profile"}, 302, "invalid_scope"),
    ({"code_challenge_method": "plain"}, 302, "invalid_request"),
    ({"client_id": "unknown"}, 400, None),
    ({"redirect_uri": "javascript:alert(1)"}, 400, None),
])
def test_authorize_refuses_bad_requests(simulator, params, status, error):
    query = {"response_type": "code", "client_id": CLIENT, "redirect_uri": REDIRECT,
             "scope": "openid", "state": "s", "login_hint": "P01", "code_challenge": "c" * 43,
             "code_challenge_method": "S256", **params}
    resp = requests.get(simulator.url + "/oidc/authorize", params=query,
                        allow_redirects=False, timeout=2)
    assert resp.status_code == status
    if error:
        assert parse_qs(urlsplit(resp.headers["Location"]).query)["error"] == [error]


def test_userinfo_refuses_unknown_token(simulator):
    resp = requests.get(simulator.url + "/oidc/userinfo", timeout=2,
                        headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401 and "invalid_token" in resp.headers["WWW-Authenticate"]


@pytest.mark.parametrize("issuer", ["http://platform.example.gov.cn/oidc", "not a url"])
def test_config_requires_https_issuer_outside_loopback(issuer):
    with pytest.raises(ValueError):
        TrustedPlatformConfig(issuer=issuer, client_id=CLIENT, client_secret=SECRET)
