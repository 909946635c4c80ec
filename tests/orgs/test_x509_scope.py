"""A certificate session is scoped to its enterprise (R-23, R-42; issue 4 review item 2).

The enterprise's USB key proves the organisation, not the representative in person: its
holder may use that enterprise's pages, but not the representative's personal account
centre, other enterprises, or hand out authority (grant, change, approve, keep) — pages
and JSON API alike. A personal sign-in (password, SMS, …) lifts all of it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from idp.accounts.sessions import COOKIE_NAME
from idp.orgs import x509_scope
from tests.delegation.helpers import CREDIT_CODE, Tree, build_tree, open_org
from tests.oidc.helpers import Pkce, register, sign_in, tokens
from tests.orgs.conftest import E01
from tests.web.conftest import CSRF, with_csrf

X509 = ["x509"]
OTHER = E01["code"]  # another enterprise the same representative holds
PERSONAL = "/login?personal=personal"
STEP_UP = "/login?personal=step_up"


@pytest.fixture
def tree(platform, make_citizen) -> Tree:  # type: ignore[no-untyped-def]
    t = build_tree(platform, make_citizen)
    open_org(platform, t.pid("rep"), code=OTHER, name=E01["name"])
    return t


def _paths(tree: Tree, paths: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(m, p.format(code=CREDIT_CODE, other=OTHER, a=tree.grants["a"])) for m, p in paths]


PERSONAL_PATHS = [
    ("get", "/account"), ("get", "/account/password"), ("post", "/account/password"),
    ("get", "/account/totp"), ("post", "/account/totp/disable"), ("get", "/account/phone"),
    ("post", "/account/phone"), ("get", "/account/history"), ("get", "/account/apps"),
    ("post", "/account/apps/revoke"), ("get", "/account/orgs"), ("get", "/account/orgs/apply"),
    ("get", "/account/orgs/{other}"), ("post", "/account/orgs/{other}/grant"),
    ("get", "/org"), ("get", "/org/verify/registry"), ("get", "/org/{other}"),
]
STEP_UP_PATHS = [
    ("get", "/account/orgs/{code}/grant"), ("post", "/account/orgs/{code}/grant"),
    ("get", "/account/orgs/{code}/grants/{a}/change"),
    ("post", "/account/orgs/{code}/grants/{a}/change"),
    ("post", "/account/orgs/{code}/grants/{a}/approve"),
    ("post", "/org/{code}/review/{a}/keep"),
]


def _request(client, method: str, path: str):  # type: ignore[no-untyped-def]
    if method == "post":
        with_csrf(client)
        return client.post(path, data={"csrf_token": CSRF})
    return client.get(path)


@pytest.mark.parametrize(("kind", "expected"), [("personal", PERSONAL), ("step_up", STEP_UP)])
def test_certificate_session_sent_to_a_personal_sign_in(client, platform, tree, kind, expected):  # type: ignore[no-untyped-def]
    sign_in(client, platform, tree.people["rep"], level=2, amr=X509, acting_for=CREDIT_CODE)
    for method, path in _paths(tree, PERSONAL_PATHS if kind == "personal" else STEP_UP_PATHS):
        resp = _request(client, method, path)
        assert resp.status_code == 302, (method, path, resp.status_code)
        assert resp.location.endswith(expected), (method, path, resp.location)


def test_certificate_session_keeps_its_own_enterprise(client, platform, tree):  # type: ignore[no-untyped-def]
    sign_in(client, platform, tree.people["rep"], level=2, amr=X509, acting_for=CREDIT_CODE)
    page = client.get(f"/account/orgs/{CREDIT_CODE}")
    assert page.status_code == 200 and "张*" in page.get_data(as_text=True)


@pytest.mark.parametrize(("kind", "lang", "text"), [
    ("personal", "zh-CN", "企业证书登录仅可办理该企业业务;管理个人账号请使用个人方式登录"),
    ("step_up", "zh-CN", "须由法定代表人本人确认"),
    ("personal", "en", "enterprise certificate"),
])
def test_login_page_says_why(client, platform, tree, kind, lang, text):  # type: ignore[no-untyped-def]
    sign_in(client, platform, tree.people["rep"], level=2, amr=X509, acting_for=CREDIT_CODE)
    page = client.get(f"/login?personal={kind}", headers={"Accept-Language": lang})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and text in html and 'name="password"' in html


def test_personal_sign_in_from_the_notice_replaces_the_certificate_session(client, platform,  # type: ignore[no-untyped-def]
                                                                          tree):
    rep = tree.people["rep"]
    sign_in(client, platform, rep, level=2, amr=X509, acting_for=CREDIT_CODE)
    assert client.get("/account").location.endswith(PERSONAL)
    with_csrf(client)
    done = client.post("/login?personal=personal", data={
        "csrf_token": CSRF, "identifier": rep.id_number, "password": rep.password})
    assert done.status_code == 302
    s = platform.sessions.load(client.get_cookie(COOKIE_NAME).value)
    assert s is not None and s.acting_for is None and s.amr == ["pwd"]
    assert client.get("/account").status_code == 200


def test_personal_session_is_not_limited(client, platform, tree):  # type: ignore[no-untyped-def]
    sign_in(client, platform, tree.people["rep"], level=2)
    assert client.get("/account").status_code == 200
    resp = client.get(f"/account/orgs/{CREDIT_CODE}/grant")
    assert "personal=" not in (resp.location or "")
    assert client.get("/login?personal=personal").status_code == 302, "no form: signed in"


# -- the JSON API -------------------------------------------------------------------------------

def _app_token(app, platform, citizen, **session: Any) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The platform's own app (qr_app_clients) holding a token from ``session``'s login."""
    kinds = ["natural", "legal_acting"] if session else ["natural"]
    rp = register(platform, name="政务服务App", allowed_account_kinds=kinds,
                  scope="openid profile")
    platform.settings = dataclasses.replace(
        platform.settings, qr_app_clients=f"{platform.settings.qr_app_clients} {rp.client_id}")
    phone = app.test_client()
    sign_in(phone, platform, citizen, level=2, **session)
    got = tokens(phone, rp, Pkce(), org_hint=CREDIT_CODE) if session else tokens(phone, rp,
                                                                                   Pkce())
    return {"Authorization": f"Bearer {got['access_token']}"}


API_REFUSED = [
    ("get", "/api/v1/me/grants", "personal"),
    ("get", "/api/v1/orgs/{other}/grants", "personal"),
    ("post", "/api/v1/orgs/{other}/grants/applications", "personal"),
    ("post", "/api/v1/orgs/{code}/grants", "step_up"),
    ("patch", "/api/v1/orgs/{code}/grants/{a}", "step_up"),
    ("post", "/api/v1/orgs/{code}/grants/{a}/approve", "step_up"),
    ("post", "/api/v1/orgs/{code}/grants/{a}/keep", "step_up"),
]


def test_api_with_a_certificate_token(app, client, platform, tree):  # type: ignore[no-untyped-def]
    headers = _app_token(app, platform, tree.people["rep"], amr=X509, acting_for=CREDIT_CODE)
    assert client.get(f"/api/v1/orgs/{CREDIT_CODE}/grants", headers=headers).status_code == 200
    for method, path, kind in API_REFUSED:
        path = path.format(code=CREDIT_CODE, other=OTHER, a=tree.grants["a"])
        resp = getattr(client, method)(path, headers=headers, json={})
        assert resp.status_code == 403, (method, path, resp.status_code)
        body = resp.get_json()
        assert resp.mimetype == "application/problem+json"
        assert body["type"] == "urn:idp:problem:personal_sign_in_required", (method, path)
        assert ("本人确认" in body["title"]) == (kind == "step_up")


def test_api_with_a_personal_token(app, client, platform, tree):  # type: ignore[no-untyped-def]
    headers = _app_token(app, platform, tree.people["rep"])
    assert client.get("/api/v1/me/grants", headers=headers).status_code == 200
    assert client.get(f"/api/v1/orgs/{OTHER}/grants", headers=headers).status_code == 200


# -- the rule table -------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "rule"), [
    ("/", x509_scope.ALLOW), ("/authorize", x509_scope.ALLOW),
    ("/accounts", x509_scope.ALLOW), ("/organisation", x509_scope.ALLOW),
    ("/account", x509_scope.PERSONAL), ("/account/", x509_scope.PERSONAL),
    ("/account/orgs/C", x509_scope.ALLOW), ("/account/orgs/C/", x509_scope.ALLOW),
    ("/account/orgs/C/grants/1/cancel", x509_scope.ALLOW),
    ("/account/orgs/C/grant", x509_scope.STEP_UP),
    ("/account/orgs/C/grants/12/change", x509_scope.STEP_UP),
    ("/account/orgs/CX", x509_scope.PERSONAL), ("/account/orgs/c", x509_scope.PERSONAL),
    ("/org/C", x509_scope.ALLOW), ("/org/C/review/3/keep", x509_scope.STEP_UP),
    ("/org/confirm/x", x509_scope.PERSONAL),
])
def test_web_rule(path, rule):  # type: ignore[no-untyped-def]
    assert x509_scope.web_rule(path, "C") == rule


@pytest.mark.parametrize(("method", "path", "code", "rule"), [
    ("GET", "/api/v1/clients/x/service-items", "C", x509_scope.ALLOW),
    ("GET", "/api/v1/me", "C", x509_scope.PERSONAL),
    ("GET", "/api/v1/orgs", "C", x509_scope.PERSONAL),
    ("GET", "/api/v1/orgs/C/grants", "C", x509_scope.ALLOW),
    ("DELETE", "/api/v1/orgs/C/grants/4", "C", x509_scope.ALLOW),
    ("POST", "/api/v1/orgs/C/grants/4/refuse", "C", x509_scope.ALLOW),
    ("POST", "/api/v1/orgs/C/grants", "C", x509_scope.STEP_UP),
    ("GET", "/api/v1/orgs/C/grants", None, x509_scope.PERSONAL),  # token without org
    ("GET", "/api/v1/orgs/D/grants", "C", x509_scope.PERSONAL),
])
def test_api_rule(method, path, code, rule):  # type: ignore[no-untyped-def]
    assert x509_scope.api_rule(path, method, code) == rule
