"""Malformed, missing, oversized and hostile input at every OIDC endpoint: never a 500,
never partial state (issue 2 acceptance)."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from idp.oidc.models import Consent, RefreshToken
from tests.oidc.helpers import REDIRECT, register, sign_in

BIG = "x" * 5000
HOSTILE = "\"'<script>alert(1)</script>\u202e\x00"
# A JWT whose header is JSON nested deeper than Python's recursion limit (review: was a 500).
NESTED = base64.urlsafe_b64encode(b"[" * 3000).decode().rstrip("=") + ".e30.eA"

CASES = [
    ("GET", "/authorize", {}, None, None),
    ("GET", "/authorize", {"client_id": "{cid}"}, None, None),
    ("GET", "/authorize", {"client_id": "{cid}", "response_type": "code"}, None, None),
    ("GET", "/authorize", {"client_id": "{cid}", "response_type": "token",
                           "redirect_uri": REDIRECT}, None, None),
    ("GET", "/authorize", {"client_id": "{cid}", "response_type": HOSTILE,
                           "redirect_uri": REDIRECT}, None, None),
    ("GET", "/authorize", {"client_id": "{cid}", "response_type": "code",
                           "redirect_uri": REDIRECT + HOSTILE}, None, None),
    ("GET", "/authorize", {"client_id": "{cid}", "response_type": "code",
                           "redirect_uri": REDIRECT, "scope": "openid", "max_age": "-1",
                           "code_challenge": "a" * 43, "code_challenge_method": "S256"},
     None, None),
    ("GET", "/authorize", {"client_id": "{cid}", "response_type": "code",
                           "redirect_uri": REDIRECT, "scope": "openid", "prompt": HOSTILE,
                           "id_token_hint": BIG}, None, None),
    ("GET", "/authorize", {"client_id": BIG}, None, None),
    ("GET", "/authorize", {"client_id": HOSTILE}, None, None),
    ("GET", "/authorize?client_id={cid}&client_id={cid}&response_type=code&redirect_uri="
     + REDIRECT, {}, None, None),
    ("GET", "/authorize?client_id=%ff%fe&response_type=%c3%28", {}, None, None),
    ("POST", "/authorize", {"client_id": "{cid}", "state": BIG}, None, None),
    ("POST", "/authorize", None, '{"client_id": "x"}', "application/json"),
    ("GET", "/authorize/resume", {"tx": BIG}, None, None),
    ("POST", "/authorize/consent", {"tx": HOSTILE, "decision": "allow"}, None, None),
    ("POST", "/token", {}, None, None),
    ("POST", "/token", {"grant_type": HOSTILE}, None, None),
    ("POST", "/token", {"grant_type": "authorization_code", "code": BIG}, None, None),
    ("POST", "/token", {"grant_type": "refresh_token", "refresh_token": HOSTILE,
                        "client_id": "{cid}"}, None, None),
    ("POST", "/token", {"grant_type": "client_credentials", "client_id": "{cid}",
                        "client_secret": BIG}, None, None),
    ("POST", "/token", {"grant_type": "authorization_code", "client_assertion_type":
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        "client_assertion": "a.b.c"}, None, None),
    ("POST", "/token", {"grant_type": "authorization_code", "client_assertion_type":
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        "client_assertion": "eyJhbGciOiJub25lIn0.WzFd."}, None, None),
    ("POST", "/token", None, '{"grant_type": "client_credentials"}', "application/json"),
    ("POST", "/token", None, b"grant_type=\xff\xfe&code=\xc3\x28",
     "application/x-www-form-urlencoded"),
    ("GET", "/token", {}, None, None),
    ("GET", "/userinfo", {"access_token": "x"}, None, None),
    ("POST", "/userinfo", None, '{"access_token": "x"}', "application/json"),
    ("POST", "/introspect", {"token": BIG, "token_type_hint": HOSTILE}, None, None),
    ("POST", "/introspect", {}, None, None),
    ("POST", "/introspect", {"token": NESTED}, None, None),
    ("POST", "/userinfo", {"access_token": NESTED}, None, None),
    ("POST", "/revoke", {"token": NESTED, "client_id": "{cid}"}, None, None),
    ("POST", "/revoke", {"token_type_hint": "refresh_token"}, None, None),
    ("POST", "/revoke", {"token": HOSTILE, "client_id": "{cid}"}, None, None),
    ("GET", "/end_session", {"id_token_hint": HOSTILE, "post_logout_redirect_uri": BIG},
     None, None),
    ("POST", "/end_session", {"confirm": "1", "csrf_token": HOSTILE}, None, None),
    ("GET", "/jwks", {"kid": HOSTILE}, None, None),
]

HEADERS = [
    {},
    {"Authorization": "Basic %%%not-base64"},
    {"Authorization": "Basic " + "QQ=="},  # "A": no colon
    {"Authorization": "Bearer " + HOSTILE.replace("\x00", "")},
    {"Authorization": "Bearer " + NESTED},
]


def _state(platform) -> tuple[int, int]:
    with platform.db.session() as session:
        return (session.scalar(select(func.count()).select_from(RefreshToken)),
                session.scalar(select(func.count()).select_from(Consent)))


@pytest.mark.parametrize("method,path,params,body,ctype", CASES)
def test_hostile_input_never_500_nor_partial_state(client, platform, citizen, method, path,
                                                   params, body, ctype):
    rp = register(platform, skip_consent=False)
    sign_in(client, platform, citizen)
    before = _state(platform)
    path = path.replace("{cid}", rp.client_id)
    params = {k: v.replace("{cid}", rp.client_id) for k, v in (params or {}).items()}
    for headers in HEADERS:  # each case also with hostile credentials
        if method == "GET":
            resp = client.get(path, query_string=params or None, headers=headers)
        elif body is not None:
            resp = client.post(path, data=body, content_type=ctype, headers=headers)
        else:
            resp = client.post(path, data=params, headers=headers)
        assert resp.status_code < 500, (headers, resp.get_data(as_text=True)[:500])
        assert _state(platform) == before
        if resp.status_code == 302:  # any redirect goes only to the registered URI
            assert resp.location.startswith(REDIRECT)
