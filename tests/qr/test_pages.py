"""The waiting browser's side of QR login: the page, the poll, the completion (R-30)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.accounts.sessions import COOKIE_NAME
from idp.audit.models import AuditRecord
from tests.oidc.helpers import Pkce, auth_params, query, redeem, register, verify_id_token
from tests.qr.helpers import api, complete, csrf_of, open_qr_page, signed_in_app


@pytest.fixture
def phone(app, platform, citizen):
    return signed_in_app(app, platform, citizen)


def _sso(platform, browser):
    cookie = browser.get_cookie(COOKIE_NAME)
    return platform.sessions.load(cookie.value) if cookie else None


def _status(browser) -> str:
    resp = browser.get("/login/qr/status")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    return resp.get_json()["state"]


def test_qr_page_shows_code_and_loads_only_external_script(client):
    resp = client.get("/login/qr")
    html = resp.get_data(as_text=True)
    assert 'src="data:image/svg+xml' in html and "data-ticket=" in html
    assert '<script src="/static/qr.js"' in html and "<script>" not in html
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert client.get("/static/qr.js").status_code == 200


def test_login_page_tabs_offer_qr_and_face(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/login/qr"' in html and 'href="/login/face"' in html


def test_confirmed_ticket_signs_the_browser_in_with_amr_qr(client, platform, phone, citizen):
    ticket = open_qr_page(client)
    assert _status(client) == "pending"
    api(client, phone, ticket, "scan")
    assert _status(client) == "scanned"
    api(client, phone, ticket, "confirm")
    assert _status(client) == "confirmed"
    resp = complete(client)
    assert resp.status_code == 303 and resp.location.endswith("/account")
    s = _sso(platform, client)
    assert s.person_id == citizen.person_id and s.amr == ["qr"]
    assert s.acr == "urn:idp:acr:realname:1"
    with platform.db.session() as db:
        event = db.scalars(select(AuditRecord).where(
            AuditRecord.action == "account:login:success")).one()
        assert event.details["method"] == "qr" and event.target == citizen.sub


def test_completed_ticket_cannot_be_replayed(client, phone):
    ticket = open_qr_page(client)
    api(client, phone, ticket, "scan")
    api(client, phone, ticket, "confirm")
    csrf = csrf_of(client)
    assert complete(client).status_code == 303
    with client.session_transaction() as sess:  # put the old ticket back into the cookie
        sess["qr"] = {"id": ticket, "secret": "whatever"}
        sess["csrf"] = csrf
    again = complete(client)
    assert again.status_code == 400
    assert api(client, phone, ticket, "confirm").status_code == 404


def test_ticket_cannot_be_completed_in_another_browser(app, client, platform, phone):
    ticket = open_qr_page(client)
    thief = app.test_client()
    open_qr_page(thief)
    with thief.session_transaction() as sess:  # the thief knows the ticket id, not the secret
        sess["qr"] = {"id": ticket, "secret": "guessed"}
    api(client, phone, ticket, "scan")
    api(client, phone, ticket, "confirm")
    assert _status(thief) == "expired"
    assert complete(thief).status_code == 400
    assert _sso(platform, thief) is None
    assert complete(client).status_code == 303  # the real browser still can


@pytest.mark.parametrize("steps", [[], ["scan"], ["scan", "deny"]])
def test_unconfirmed_ticket_does_not_sign_in(client, platform, phone, steps):
    ticket = open_qr_page(client)
    for step in steps:
        api(client, phone, ticket, step)
    resp = complete(client)
    assert resp.status_code == 409
    assert _sso(platform, client) is None
    fresh = resp.get_data(as_text=True)
    assert "data-ticket=" in fresh and ticket not in fresh  # a new code to scan
    assert _status(client) == "pending"


def test_denied_ticket_is_reported_to_the_page(client, phone):
    ticket = open_qr_page(client)
    api(client, phone, ticket, "scan")
    api(client, phone, ticket, "deny")
    assert _status(client) == "denied"


def test_status_without_ticket_and_complete_without_csrf(client):
    assert _status(client) == "expired"
    assert client.post("/login/qr/complete").status_code == 400


def test_session_level_is_capped_by_the_apps_sign_in(app, client, platform, make_citizen):
    strong = make_citizen(id_number="110101198503120017", phone="13800138001", name="张伟",
                          realname_level=3)
    weak_app = signed_in_app(app, platform, strong, level=1)
    ticket = open_qr_page(client)
    api(client, weak_app, ticket, "scan")
    api(client, weak_app, ticket, "confirm")
    complete(client)
    assert _sso(platform, client).acr == "urn:idp:acr:realname:1"


def test_qr_login_resumes_the_relying_partys_request(client, platform, phone):
    rp = register(platform)
    pkce = Pkce()
    params = auth_params(rp, pkce)
    tx = query(client.get("/authorize", query_string=params).location)["tx"]
    ticket = open_qr_page(client, tx=tx)
    api(client, phone, ticket, "scan")
    api(client, phone, ticket, "confirm")
    resp = complete(client, tx=tx)
    assert resp.location == f"/authorize/resume?tx={tx}"
    got = query(client.get(resp.location).location)
    assert got["state"] == params["state"]
    claims = verify_id_token(client, rp, redeem(client, rp, got["code"], pkce)
                             .get_json()["id_token"])
    assert claims["amr"] == ["qr"]


def test_banned_person_cannot_complete(client, platform, phone, citizen):
    from idp.accounts.models import Person

    ticket = open_qr_page(client)
    api(client, phone, ticket, "scan")
    api(client, phone, ticket, "confirm")
    with platform.db.session() as db:
        db.get(Person, citizen.person_id).status = "banned"
    resp = complete(client)
    assert resp.status_code == 403
    assert _sso(platform, client) is None


def test_signed_in_browser_skips_the_qr_page(client, platform, citizen):
    from tests.oidc.helpers import sign_in

    sign_in(client, platform, citizen)
    resp = client.get("/login/qr")
    assert resp.status_code == 302 and resp.location.endswith("/account")


@pytest.mark.parametrize(("path", "text"), [
    ("/login/qr", "Waiting for the code to be scanned"),
    ("/login/face", "Face"),
])
def test_pages_are_translated_to_english(client, path, text):
    html = client.get(path, query_string={"lang": "en"}).get_data(as_text=True)
    assert text in html and "扫码登录" not in html
