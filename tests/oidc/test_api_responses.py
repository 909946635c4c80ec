"""The exact responses of the machine-to-machine endpoints (issue 2 performance work).

Written before the request handling of /token, /userinfo, /introspect and /revoke was made
cheaper (idp/oidc/fastpath.py), to prove that nothing an integrator can see changed: status
lines, every header with its value and its order, bodies, error formats (RFC 6749 §5.2,
RFC 6750 §3, RFC 9457), the security headers (R-70) and the log record of a
client_credentials issuance. Dynamic values (tokens, lengths, dates) are checked by shape.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from typing import Any

import pytest

from tests.oidc.helpers import Pkce, register, sign_in, tokens

NOSNIFF = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]
PAGE = [("X-Frame-Options", "DENY"),
        ("Content-Security-Policy",
         "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
         "frame-ancestors 'none'; form-action 'self' http: https:; base-uri 'none'"),
        ("Cache-Control", "no-store")]
OAUTH_JSON = [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
              ("Pragma", "no-cache")]
LENGTH = ("Content-Length", re.compile(r"\d+"))
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
LANG_COOKIE = ("Set-Cookie", re.compile(
    r"lang=en; Expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT; Max-Age=31536000; "
    r"HttpOnly; Path=/; SameSite=Lax"))
METHODS = "The client cannot authenticate with methods: " \
          "['client_secret_basic', 'client_secret_post', 'private_key_jwt']"


def check(resp: Any, status: str, headers: list[tuple[str, Any]]) -> None:
    """Status line and every header, in order; a compiled pattern matches a dynamic value."""
    assert resp.status == status
    got = list(resp.headers.items())
    assert [k for k, _ in got] == [k for k, _ in headers], got
    for (name, value), (_, expected) in zip(got, headers, strict=True):
        if isinstance(expected, re.Pattern):
            assert expected.fullmatch(value), (name, value)
        else:
            assert value == expected, (name, value)
    if "Content-Length" in resp.headers:
        assert int(resp.headers["Content-Length"]) == len(resp.get_data())


def oauth_body(resp: Any) -> dict[str, Any]:
    """authlib writes ``json.dumps(body)``: ", " and ": " separators, no newline."""
    text = resp.get_data(as_text=True)
    body = json.loads(text)
    assert text == json.dumps(body)
    return body  # type: ignore[no-any-return]


def flask_body(resp: Any) -> dict[str, Any]:
    """Flask's ``jsonify``: compact separators, sorted keys, a final newline."""
    text = resp.get_data(as_text=True)
    body = json.loads(text)
    assert text == json.dumps(body, separators=(",", ":"), sort_keys=True,
                              ensure_ascii=False) + "\n"
    return body  # type: ignore[no-any-return]


@pytest.fixture
def machine(platform):
    return register(platform, grant_types=["client_credentials"], redirect_uris=[],
                    scope="openid")


@pytest.fixture
def rp(platform):
    return register(platform)


@pytest.fixture
def access_token(client, platform, citizen, rp) -> str:
    sign_in(client, platform, citizen)
    token = tokens(client, rp, Pkce(), scope="openid profile")["access_token"]
    client.delete_cookie("idp_sso", domain="localhost")  # API callers carry no cookies
    return token  # type: ignore[no-any-return]


# -- /token -----------------------------------------------------------------------------------


def test_client_credentials_response(client, machine, caplog):
    caplog.set_level(logging.INFO, logger="idp.oidc.server")
    resp = client.post("/token", headers=machine.basic(),
                       data={"grant_type": "client_credentials"})
    check(resp, "200 OK", [*OAUTH_JSON, LENGTH, *NOSNIFF])
    body = oauth_body(resp)
    assert list(body) == ["access_token", "expires_in", "token_type"]
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    head, claims, _sig = (part + "=" * (-len(part) % 4) for part in
                          body["access_token"].split("."))
    header = json.loads(base64.urlsafe_b64decode(head))
    assert list(header) == ["alg", "typ", "kid"] and header["typ"] == "at+jwt"
    assert list(json.loads(base64.urlsafe_b64decode(claims))) == [
        "iss", "exp", "iat", "aud", "client_id", "jti", "scope", "sub"]
    issued = [r.getMessage() for r in caplog.records if r.name == "idp.oidc.server"]
    assert issued == [f"token issued grant=client_credentials client={machine.client_id}"]


def test_token_errors(client, machine):
    wrong = client.post("/token", headers={"Authorization": "Basic eDp5"},
                        data={"grant_type": "client_credentials"})
    check(wrong, "401 UNAUTHORIZED", [*OAUTH_JSON, (
        "WWW-Authenticate", 'Basic error="invalid_client", '
        'error_description="The client does not exist on this server."'), LENGTH, *NOSNIFF])
    assert oauth_body(wrong) == {"error": "invalid_client",
                                 "error_description": "The client does not exist on this server."}

    scope = client.post("/token", headers=machine.basic(),
                        data={"grant_type": "client_credentials", "scope": "openid"})
    check(scope, "400 BAD REQUEST", [*OAUTH_JSON, LENGTH, *NOSNIFF])
    assert oauth_body(scope) == {
        "error": "invalid_scope",
        "error_description": "Person scopes need a person: use the code flow."}

    unknown = client.post("/token", headers=machine.basic(), data={"grant_type": "password"})
    check(unknown, "400 BAD REQUEST", [*OAUTH_JSON, LENGTH, *NOSNIFF])
    assert oauth_body(unknown) == {"error": "unsupported_grant_type"}

    undecodable = client.post("/token", data=b"grant_type=\xff\xfe",
                              content_type="application/x-www-form-urlencoded")
    check(undecodable, "400 BAD REQUEST", [*OAUTH_JSON, LENGTH, *NOSNIFF])
    assert oauth_body(undecodable) == {"error": "unsupported_grant_type"}

    noauth = client.post("/token", data={"grant_type": "client_credentials"})
    check(noauth, "401 UNAUTHORIZED", [*OAUTH_JSON, (
        "WWW-Authenticate", f'Basic error="invalid_client", error_description="{METHODS}"'),
        LENGTH, *NOSNIFF])


def test_grant_type_in_the_query_counts(client, machine):
    """authlib reads ``request.values``: the query string first, then the form."""
    resp = client.post("/token?grant_type=client_credentials", headers=machine.basic(),
                       data={"grant_type": "password"})
    assert resp.status_code == 200
    resp = client.post("/token?scope=openid", headers=machine.basic(),
                       data={"grant_type": "client_credentials"})
    assert oauth_body(resp)["error"] == "invalid_scope"


def test_token_endpoint_http_errors(client):
    page = client.get("/token")
    check(page, "405 METHOD NOT ALLOWED", [("Content-Type", "text/html; charset=utf-8"),
                                           LENGTH, *NOSNIFF, *PAGE])
    assert "不支持的请求方法" in page.get_data(as_text=True)

    problem = client.get("/token", headers={"Accept": "application/json"})
    check(problem, "405 METHOD NOT ALLOWED", [("Content-Type", "application/problem+json"),
                                              LENGTH, *NOSNIFF])
    assert flask_body(problem) == {"detail": "The method is not allowed for the requested URL.",
                                   "status": 405, "title": "不支持的请求方法",
                                   "type": "about:blank"}

    options = client.options("/token")
    allow = ("Allow", re.compile(r"OPTIONS, POST|POST, OPTIONS"))  # a set: either order
    check(options, "200 OK", [("Content-Type", "text/html; charset=utf-8"), allow, *NOSNIFF,
                              *PAGE, ("Content-Length", "0")])

    big = client.post("/token", data=b"a=" + b"x" * (1024 * 1024 + 10),
                      content_type="application/x-www-form-urlencoded",
                      headers={"Accept": "application/json"})
    check(big, "413 REQUEST ENTITY TOO LARGE", [("Content-Type", "application/problem+json"),
                                                LENGTH, *NOSNIFF])
    assert flask_body(big)["type"] == "urn:idp:problem:request_too_large"


def test_cookies_are_neither_read_into_nor_written_by_api_responses(client, machine):
    """A caller that also carries page cookies (session, language) gets the same response:
    no ``Vary: Cookie``, no session cookie; only an explicit ``?lang=`` sets one (as on
    every other URL)."""
    client.get("/login")  # a page that puts a CSRF token in the session cookie
    assert client.get_cookie("idp_ui") is not None
    client.set_cookie("lang", "zh_CN", domain="localhost")
    resp = client.post("/token", headers=machine.basic(),
                       data={"grant_type": "client_credentials"})
    check(resp, "200 OK", [*OAUTH_JSON, LENGTH, *NOSNIFF])
    lang = client.post("/token?lang=en", headers=machine.basic(),
                       data={"grant_type": "client_credentials"})
    check(lang, "200 OK", [*OAUTH_JSON, LENGTH, LANG_COOKIE, *NOSNIFF])


@pytest.mark.parametrize("settings_overrides", [{"secure_cookies": True}])
def test_https_adds_hsts(client, machine):
    resp = client.post("/token", headers=machine.basic(), base_url="https://localhost",
                       data={"grant_type": "client_credentials"})
    check(resp, "200 OK", [*OAUTH_JSON, LENGTH, *NOSNIFF, HSTS])
    resp = client.post("/token", headers=machine.basic(),
                       data={"grant_type": "client_credentials"})
    check(resp, "200 OK", [*OAUTH_JSON, LENGTH, *NOSNIFF])


# -- /userinfo, /introspect, /revoke ----------------------------------------------------------


def test_userinfo_responses(client, access_token):
    ok = client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    check(ok, "200 OK", [("Content-Type", "application/json"), LENGTH,
                         ("Cache-Control", "no-store"), *NOSNIFF])
    assert set(flask_body(ok)) == {"sub", "name"}

    posted = client.post("/userinfo", data={"access_token": access_token})
    check(posted, "200 OK", [("Content-Type", "application/json"), LENGTH,
                             ("Cache-Control", "no-store"), *NOSNIFF])

    missing = client.get("/userinfo")
    check(missing, "401 UNAUTHORIZED", [
        ("Content-Type", "application/json"), LENGTH, ("Cache-Control", "no-store"),
        ("WWW-Authenticate", 'Bearer error="invalid_token", '
                             'error_description="Missing access token."'), *NOSNIFF])
    assert flask_body(missing) == {"error": "invalid_token",
                                   "error_description": "Missing access token."}

    bad = client.get("/userinfo", headers={"Authorization": "Bearer x.y.z"})
    check(bad, "401 UNAUTHORIZED", [
        ("Content-Type", "application/json"), LENGTH, ("Cache-Control", "no-store"),
        ("WWW-Authenticate", 'Bearer error="invalid_token", '
                             'error_description="The access token is invalid."'), *NOSNIFF])

    malformed = client.get("/userinfo", headers={"Authorization": "Basic eDp5"})
    check(malformed, "400 BAD REQUEST", [
        ("Content-Type", "application/json"), LENGTH, ("Cache-Control", "no-store"),
        ("WWW-Authenticate", 'Bearer error="invalid_request", '
                             'error_description="Malformed Authorization header."'), *NOSNIFF])


def test_introspection_responses(client, rp, machine, access_token):
    ok = client.post("/introspect", headers=rp.basic(), data={"token": access_token})
    check(ok, "200 OK", [*OAUTH_JSON, LENGTH, *NOSNIFF])
    body = oauth_body(ok)
    assert body["active"] is True and list(body) == sorted(body)
    assert set(body) == {"active", "acr", "aud", "auth_time", "client_id", "exp", "iat",
                         "iss", "jti", "scope", "sid", "sub", "token_type"}

    other = client.post("/introspect", headers=machine.basic(), data={"token": access_token})
    check(other, "200 OK", [*OAUTH_JSON, LENGTH, *NOSNIFF])
    assert oauth_body(other) == {"active": False}

    noauth = client.post("/introspect", data={"token": access_token})
    check(noauth, "401 UNAUTHORIZED", [*OAUTH_JSON, (
        "WWW-Authenticate", f'Basic error="invalid_client", error_description="{METHODS}"'),
        LENGTH, *NOSNIFF])
    assert oauth_body(noauth) == {"error": "invalid_client", "error_description": METHODS}

    empty = client.post("/introspect", headers=rp.basic(), data={})
    check(empty, "400 BAD REQUEST", [*OAUTH_JSON, LENGTH, *NOSNIFF])
    assert oauth_body(empty)["error"] == "invalid_request"


def test_revocation_response(client, rp):
    resp = client.post("/revoke", headers=rp.basic(), data={"token": "unknown"})
    check(resp, "200 OK", [*OAUTH_JSON, LENGTH, *NOSNIFF])
    assert resp.get_data() == b"{}"


def test_discovery_response(client):
    resp = client.get("/.well-known/openid-configuration")
    check(resp, "200 OK", [("Content-Type", "application/json"), LENGTH,
                           ("Cache-Control", "public, max-age=3600"), *NOSNIFF])
    assert flask_body(resp)["token_endpoint"] == "http://localhost/token"


# -- the cheaper request handling itself --------------------------------------------------------


def test_lean_oauth_request_has_authlib_attributes(app):
    """`LeanOAuth2Request` sets what authlib's constructor sets (an authlib upgrade that
    adds an attribute fails here, not in production)."""
    from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request

    from idp.oidc.oauth_request import LeanOAuth2Request

    with app.test_request_context("/token?x=1", method="POST", data={"grant_type": "g"}):
        from flask import request

        lean = LeanOAuth2Request(request._get_current_object())
        stock = FlaskOAuth2Request(request._get_current_object())
        assert set(vars(lean)) == set(vars(stock)) - {"uri"}
        assert lean.uri == stock.uri == "http://localhost/token?x=1"
        for name, value in vars(stock).items():
            if name not in ("uri", "payload"):
                assert getattr(lean, name) == value, name
        assert lean.payload.grant_type == stock.payload.grant_type == "g"
        assert dict(lean.payload.datalist) == dict(stock.payload.datalist)


@pytest.mark.parametrize("base_url,secure", [
    ("http://localhost", True), ("http://127.0.0.1", True), ("http://[::1]", True),
    ("https://idp.example.gov.cn", True), ("http://idp.example.gov.cn", False),
    ("http://10.0.0.1", False), ("http://LOCALHOST", True)])
def test_transport_check_as_authlib(app, base_url, secure, monkeypatch):
    """Plain http only to loopback (authlib's rule), memoised per scheme and host."""
    from authlib.oauth2.rfc6749 import InsecureTransportError

    from idp.oidc import oauth_request

    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    for _ in range(2):  # computed, then remembered
        with app.test_request_context("/token", base_url=base_url, method="POST"):
            from flask import request

            if secure:
                oauth_request.check_transport(request)
            else:
                with pytest.raises(InsecureTransportError):
                    oauth_request.check_transport(request)
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    with app.test_request_context("/token", base_url=base_url, method="POST"):
        oauth_request.check_transport(request)


@pytest.mark.parametrize(("method", "path"), [("POST", "/token"), ("POST", "/introspect"),
                                            ("POST", "/revoke")])
def test_plain_http_from_elsewhere_is_a_clear_400(client, machine, method, path):
    """RFC 6749 §3.1: TLS is required (TLS ends at nginx in production, ProxyFix passes the
    scheme on). authlib's InsecureTransportError used to escape as a 500."""
    resp = client.open(path, method=method, headers=machine.basic(),
                       base_url="http://idp.example.gov.cn",
                       data={"grant_type": "client_credentials", "token": "x"})
    assert resp.status_code == 400
    assert resp.get_json() == {"error": "invalid_request",
                               "error_description": "HTTPS is required."}
    assert resp.headers["Cache-Control"] == "no-store"
    page = client.get("/authorize", base_url="http://idp.example.gov.cn")  # an error page
    assert page.status_code == 400 and "Traceback" not in page.get_data(as_text=True)
