"""The docs/demo.md walk-through, automated: single sign-on and back-channel logout.

Real processes over real HTTP: `idp demo` (platform + two demo systems that use authlib's
Flask client, a real OIDC client library), driven by a cookie-holding HTTP client per
"browser". Issue 2, Acceptance: an end-to-end test drives a real OIDC client library
through the authorization-code flow against a running server.
"""

from __future__ import annotations

import json

import requests

from demo.seed import DEMO_CITIZEN
from tests.e2e.stack import DemoStack, forms_of, login_form, pass_consent, submit


def whoami(browser: requests.Session, rp: str) -> dict:  # type: ignore[type-arg]
    resp = browser.get(f"{rp}/session.json", timeout=10)
    assert resp.status_code == 200
    return resp.json()  # type: ignore[no-any-return]


def sign_in_at(browser: requests.Session, rp: str) -> requests.Response:
    """Click "sign in" at a demo system and fill in the platform's password form."""
    page = browser.get(f"{rp}/login", timeout=20)
    form = login_form(page)
    assert form is not None, f"no login form at {page.url}"
    assert form.fields.get("csrf_token"), "the login form carries a CSRF token"
    page = submit(browser, page, form, identifier=DEMO_CITIZEN["id_number"],
                  password=DEMO_CITIZEN["password"])
    return pass_consent(browser, page)


def sign_out_at(browser: requests.Session, rp: str) -> requests.Response:
    home = browser.get(f"{rp}/", timeout=10)
    [form] = [f for f in forms_of(home.text) if f.action.endswith("/logout")]
    page = submit(browser, home, form)
    # The platform may ask to confirm the logout (RP-Initiated Logout §2); confirm it.
    if not page.url.startswith(rp):
        confirm = [f for f in forms_of(page.text) if f.method == "post"]
        if confirm:
            page = submit(browser, page, confirm[0])
    return page


def test_sign_in_once_then_second_system_needs_no_login(demo_stack: DemoStack) -> None:
    browser = requests.Session()
    social, housing = demo_stack.social, demo_stack.housing
    assert whoami(browser, social) == {"signed_in": False}

    page = sign_in_at(browser, social)
    assert page.status_code == 200 and page.url == f"{social}/"
    assert 'id="signed-in"' in page.text
    me = whoami(browser, social)
    assert me["signed_in"] and me["name"] == "张*"  # masked, never the full name
    assert me["acr"] == "urn:idp:acr:realname:2" and me["level"] == 2
    assert "pwd" in me["amr"]

    page = browser.get(f"{housing}/login", timeout=20)
    assert page.url == f"{housing}/", "SSO: the second system signs in without a form"
    assert login_form(page) is None
    other = whoami(browser, housing)
    assert other["signed_in"] and other["sub"] == me["sub"]


def test_sign_out_of_one_system_signs_out_of_the_other(demo_stack: DemoStack) -> None:
    browser = requests.Session()
    social, housing = demo_stack.social, demo_stack.housing
    sign_in_at(browser, social)
    browser.get(f"{housing}/login", timeout=20)
    assert whoami(browser, housing)["signed_in"]

    page = sign_out_at(browser, social)
    assert page.url.startswith(f"{social}/")
    assert whoami(browser, social) == {"signed_in": False}
    # Back-channel logout: the platform told the housing fund system, server to server.
    assert whoami(browser, housing) == {"signed_in": False}
    # The platform's SSO session is gone too: signing in again asks for the password.
    assert login_form(browser.get(f"{housing}/login", timeout=20)) is not None


def test_other_browser_is_not_signed_out(demo_stack: DemoStack) -> None:
    alice, bob = requests.Session(), requests.Session()
    sign_in_at(alice, demo_stack.social)
    sign_in_at(bob, demo_stack.housing)
    sign_out_at(alice, demo_stack.social)
    assert whoami(bob, demo_stack.housing)["signed_in"], "only alice's session (sid) ends"


def test_demo_credentials_file_is_private(demo_stack: DemoStack) -> None:
    clients = demo_stack.var_dir / "demo" / "clients.json"
    assert clients.stat().st_mode & 0o077 == 0
    data = json.loads(clients.read_text(encoding="utf-8"))
    assert data["issuer"] == demo_stack.issuer
    assert set(data["systems"]) == {"social_security", "housing_fund"}
