"""Issue 7 item 3, acceptance: the gateway in front of a small legacy app under a real
nginx. Unauthenticated users are sent to log in; forged identity headers from the browser
never reach the app; a ban on the platform ends the gateway session (back-channel logout).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from idp.accounts.models import Person
from idp.oidc.logout import end_person_sessions, send_notices
from idp.platform import Platform
from tests.conftest import Citizen
from tests.e2e.stack import forms_of, login_form, pass_consent, submit
from tests.gateway.stack import NGINX, GatewaySite, echo
from tests.live import ban

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(),
                                reason="nginx is not installed (scripts/services.sh installs it)")

FORGED = {"X-Idp-Sub": "forged-sub", "X-Idp-Name": "%E6%9D%8E%E5%9B%9B",
          "X-Idp-Acr": "urn:idp:acr:realname:3", "X-Idp-Amr": "x509",
          "X-Idp-Time": "9999999999", "X-Idp-Signature": "v1=" + "0" * 64}


def sign_in(browser: requests.Session, site: GatewaySite, citizen: Citizen,
            path: str = "/records?id=7&tab=a") -> requests.Response:
    """Ask for a protected page, fill in the platform's real login form, come back."""
    page = browser.get(site.url + path, timeout=20)
    form = login_form(page)
    assert form is not None, f"no login form at {page.url}: {page.status_code}"
    page = submit(browser, page, form, identifier=citizen.id_number,
                  password=citizen.password)
    return pass_consent(browser, page)


def test_unauthenticated_request_is_sent_to_the_platform(site: GatewaySite) -> None:
    browser = requests.Session()
    first = browser.get(f"{site.url}/records?id=7", allow_redirects=False, timeout=10)
    assert first.status_code == 302
    target = urlsplit(first.headers["Location"])
    assert target.path == "/authorize"
    query = parse_qs(target.query)
    assert query["client_id"] == [site.client_id]  # type: ignore[attr-defined]
    assert query["redirect_uri"] == [f"{site.url}/_gw/callback"]
    assert query["code_challenge_method"] == ["S256"] and query["nonce"]
    assert first.headers["Cache-Control"] == "no-store"
    # The login is bound to this browser by a cookie holding the state.
    assert browser.cookies.get("idp_gw_tx") == query["state"][0]
    # Following the redirects lands on the platform's login form.
    assert login_form(browser.get(first.headers["Location"], timeout=10)) is not None


def test_after_login_the_app_sees_signed_identity(site: GatewaySite, citizen: Citizen) -> None:
    browser = requests.Session()
    page = sign_in(browser, site, citizen)
    assert page.status_code == 200
    assert page.url == f"{site.url}/records?id=7&tab=a", "back where the person started"
    seen = page.json()
    assert seen["error"] is None, seen
    assert seen["identity"]["sub"] == citizen.sub
    assert seen["identity"]["name"] == "张*"  # masked, never the full name
    assert seen["identity"]["acr"] == "urn:idp:acr:realname:1"
    assert seen["identity"]["amr"] == ["pwd"]
    assert seen["headers"]["X-Idp-Name"] == "%E5%BC%A0%2A"  # percent-encoded UTF-8
    cookie = next(c for c in browser.cookies if c.name == "idp_gw")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/"


def test_forged_headers_never_reach_the_app(site: GatewaySite, citizen: Citizen) -> None:
    anonymous = requests.Session()
    public = echo(anonymous, f"{site.url}/public/page", headers=FORGED)
    assert public["headers"] == {}, "stripped on public pages too"
    sneaky = echo(anonymous, f"{site.url}/public/page", headers={"X_Idp_Sub": "forged-sub"})
    assert sneaky["headers"] == {}, "underscore spelling dropped by nginx"
    refused = anonymous.get(f"{site.url}/records", headers=FORGED, allow_redirects=False,
                            timeout=10)
    assert refused.status_code == 302, "forged headers do not sign anyone in"

    browser = requests.Session()
    sign_in(browser, site, citizen)
    seen = echo(browser, f"{site.url}/records", headers=FORGED)
    assert seen["headers"]["X-Idp-Sub"] == citizen.sub
    assert "forged" not in str(seen["headers"]) and "x509" not in str(seen["headers"])
    assert seen["identity"]["sub"] == citizen.sub and seen["error"] is None


def test_internal_locations_are_not_reachable_from_the_browser(site: GatewaySite,
                                                                citizen: Citizen) -> None:
    browser = requests.Session()
    sign_in(browser, site, citizen)
    for path in ("/_gw/auth", "/_gw/start"):
        resp = browser.get(site.url + path, allow_redirects=False, timeout=10)
        assert resp.status_code == 404, path
        assert "X-Idp-Signature" not in resp.headers


def test_ban_on_the_platform_ends_the_gateway_session(site: GatewaySite, citizen: Citizen,
                                                      platform: Platform) -> None:
    browser = requests.Session()
    sign_in(browser, site, citizen)
    assert echo(browser, f"{site.url}/records")["identity"]["sub"] == citizen.sub

    notices = ban(platform, citizen.person_id)
    assert [n.uri for n in notices] == [f"{site.url}/_gw/backchannel-logout"]
    assert send_notices(platform, notices) == [], "the gateway accepted the logout token"

    again = browser.get(f"{site.url}/records", allow_redirects=False, timeout=10)
    assert again.status_code == 302
    assert urlsplit(again.headers["Location"]).path == "/authorize"
    # The platform's session is gone too, and the banned person cannot sign in again.
    page = browser.get(again.headers["Location"], timeout=10)
    form = login_form(page)
    assert form is not None
    page = submit(browser, page, form, identifier=citizen.id_number, password=citizen.password)
    assert not page.url.startswith(site.url)


def test_other_sessions_survive_a_logout_of_one(site: GatewaySite, make_citizen,  # type: ignore[no-untyped-def]
                                                platform: Platform) -> None:
    alice = make_citizen()
    bob = make_citizen(id_number="11010519491231002X", phone="13800138001", name="李四")
    a, b = requests.Session(), requests.Session()
    sign_in(a, site, alice)
    sign_in(b, site, bob)
    with platform.db.session() as session:
        person = session.get(Person, alice.person_id)
        notices = end_person_sessions(platform, session, person, "ban", actor="test")
    assert send_notices(platform, notices) == []
    assert a.get(f"{site.url}/x", allow_redirects=False, timeout=10).status_code == 302
    assert echo(b, f"{site.url}/x")["identity"]["name"] == "李*"


@pytest.mark.parametrize("body", [
    {},
    {"logout_token": "not-a-jwt"},
    {"logout_token": "a.b.c"},
    {"logout_token": "x" * 20_000},
])
def test_backchannel_refuses_bad_logout_tokens(site: GatewaySite, body: dict[str, str]) -> None:
    resp = requests.post(f"{site.url}/_gw/backchannel-logout", data=body, timeout=10)
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_request"}
    assert resp.headers["Cache-Control"] == "no-store"


def test_callback_with_foreign_state_is_refused(site: GatewaySite, citizen: Citizen) -> None:
    """Login CSRF: a callback URL made for another browser does not sign this one in."""
    victim, attacker = requests.Session(), requests.Session()
    first = attacker.get(f"{site.url}/records", allow_redirects=False, timeout=10)
    state = parse_qs(urlsplit(first.headers["Location"]).query)["state"][0]
    resp = victim.get(f"{site.url}/_gw/callback", params={"state": state, "code": "x"},
                      allow_redirects=False, timeout=10)
    assert resp.status_code == 400
    assert "idp_gw" not in victim.cookies


def test_sign_out_ends_the_gateway_and_platform_sessions(site: GatewaySite,
                                                         citizen: Citizen) -> None:
    browser = requests.Session()
    sign_in(browser, site, citizen)
    bad = browser.post(f"{site.url}/_gw/logout", data={"csrf_token": "x"}, timeout=10,
                       allow_redirects=False)
    assert bad.status_code == 400, "no logout without the CSRF token"
    confirm = browser.get(f"{site.url}/_gw/logout", timeout=10)
    [form] = forms_of(confirm.text)
    page = submit(browser, confirm, form)
    if not page.url.startswith(site.url):  # the platform may ask to confirm (RP-Initiated §2)
        page = submit(browser, page, [f for f in forms_of(page.text) if f.method == "post"][0])
    assert page.url.startswith(f"{site.url}/_gw/signed-out")
    again = browser.get(f"{site.url}/records", allow_redirects=False, timeout=10)
    assert again.status_code == 302
    assert login_form(browser.get(again.headers["Location"], timeout=10)) is not None
