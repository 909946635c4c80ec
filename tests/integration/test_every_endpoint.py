"""Bad input at every endpoint: never a 500, never partial state (issue 2, acceptance).

The routes are read from the app's URL map, so a new endpoint is covered the day it is added.
Each is called anonymously and signed in, by every method it accepts, with every hostile value
in every parameter the platform knows, in the query and in the body (form, JSON, raw bytes).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from idp.accounts.models import Person
from idp.oidc.models import Client, RefreshToken
from tests.oidc.helpers import register, sign_in

PARAMS = (
    "client_id", "client_secret", "redirect_uri", "response_type", "scope", "state", "nonce",
    "code", "code_challenge", "code_challenge_method", "code_verifier", "grant_type",
    "refresh_token", "token", "token_type_hint", "access_token", "identifier", "password",
    "phone", "tx", "id_token_hint", "login_hint", "post_logout_redirect_uri", "decision",
    "current_password", "new_password", "confirm", "lang", "ui_locales", "max_age", "prompt",
    "acr_values", "request", "request_uri", "client_assertion", "client_assertion_type",
    "totp", "recovery_code", "action", "sid",
)

HOSTILE = {
    "empty": "",
    "space": "   ",
    "oversized": "A" * 20_000,  # 40 of them stay under the 1 MiB body limit
    "script": "<script>alert(1)</script>",
    "sql": "' OR 1=1; DROP TABLE person; --",
    "nul": "abc\x00def",
    "traversal": "../../../../etc/passwd",
    "crlf": "x\r\nSet-Cookie: evil=1",
    "unicode": "张三\u202e\ufeff𝕏",
    "negative": "-1",
    "huge-number": "9" * 400,
    "js-url": "javascript:alert(1)",
    "jwt-none": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    "format": "%s%n%x{0}{{7*7}}",
}


def _routes(app):  # type: ignore[no-untyped-def]
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<path:filename>", "..%2f..%2fsettings.py")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


def _counts(platform) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with platform.db.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(m))  # type: ignore[return-value]
                     for m in (Person, Client, RefreshToken))


def _assert_sane(resp, method: str, path: str, case: str) -> None:  # type: ignore[no-untyped-def]
    body = resp.get_data(as_text=True)
    assert resp.status_code < 500, f"{method} {path} [{case}] -> {resp.status_code}"
    assert "Traceback" not in body and 'File "' not in body, f"{method} {path} [{case}]"


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_no_endpoint_fails_or_leaks_on_hostile_input(app, client, platform, citizen,
                                                     signed_in):
    register(platform)
    if signed_in:
        sign_in(client, platform, citizen)
    with client.session_transaction() as ui:
        ui["csrf"] = "known-token"
    before = _counts(platform)
    for method, path in _routes(app):
        for case, value in HOSTILE.items():
            values = dict.fromkeys(PARAMS, value)
            if method == "GET":
                _assert_sane(client.get(path, query_string=values), method, path, case)
                continue
            values["csrf_token"] = "known-token"
            _assert_sane(client.open(path, method=method, data=values), method, path, case)
            _assert_sane(client.open(path, method=method, query_string=values), method, path,
                         case)
        for case, kwargs in {
            "json-body": {"json": {"client_id": ["x"], "grant_type": {"a": 1}}},
            "non-utf8": {"data": b"\xff\xfe\xfd=\xc3\x28", "content_type":
                         "application/x-www-form-urlencoded"},
            "too-large": {"data": b"a=" + b"x" * (2 * 1024 * 1024), "content_type":
                          "application/x-www-form-urlencoded"},
            "duplicated": {"query_string": [("client_id", "a"), ("client_id", "b"),
                                            ("scope", "openid"), ("scope", "profile")]},
            "multipart": {"data": {"file": (b"x" * 10, "x.html")},
                          "content_type": "multipart/form-data"},
        }.items():
            _assert_sane(client.open(path, method=method, **kwargs), method, path, case)
    assert _counts(platform) == before, "hostile input changed stored state"
