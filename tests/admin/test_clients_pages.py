"""Department systems in the console pages (issue 5 item 6; R-54, R-60)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.audit.models import AuditRecord
from idp.crypto import keyed_digest
from idp.oidc import clients as client_service
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.helpers import STAFF_PASSWORD, csrf, make_local_staff, page_sign_in
from tests.oidc.helpers import Pkce, auth_params, authorize, query, register, sign_in, tokens

FORM = {"name": "不动产登记系统", "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": "https://bdc.example.gov.cn/cb\nhttps://bdc.example.gov.cn/cb2",
        "post_logout_redirect_uris": "https://bdc.example.gov.cn/bye",
        "backchannel_logout_uri": "https://bdc.example.gov.cn/bcl",
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": ["openid", "profile", "realname"], "allowed_account_kinds": ["natural"],
        "min_realname_level": "2", "require_mfa": "on", "id_token_signed_response_alg": "ES256",
        "subject_type": "public"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}  # the embedded local staff directory: every role exists


def _staff(app: Flask, platform: Platform, role: Role) -> FlaskClient:
    browser = app.test_client()
    page_sign_in(browser, make_local_staff(platform, f"c-{role.value}", [role]), STAFF_PASSWORD)
    return browser


@pytest.fixture
def admin(app: Flask, platform: Platform) -> FlaskClient:
    return _staff(app, platform, Role.CLIENT_ADMIN)


def _post(browser: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    return browser.post(path, data={**data, "csrf_token": csrf(browser, "/admin/")})


def _audits(platform: Platform, action: str) -> list[AuditRecord]:
    with platform.db.session() as session:
        return list(session.scalars(select(AuditRecord).where(AuditRecord.action == action)))


def _client(platform: Platform, client_id: str) -> dict[str, Any]:
    with platform.db.session() as session:
        found = client_service.get(session, client_id)
        assert found is not None
        return {**client_service.describe(found), "digest": found.secret_digest}


def test_register_shows_the_secret_once_and_stores_only_its_digest(admin, platform) -> None:
    resp = _post(admin, "/admin/clients", FORM)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    html = resp.get_data(as_text=True)
    client_id = re.search(r'id="client-id">([^<]+)<', html).group(1)  # type: ignore[union-attr]
    secret = re.search(r'id="client-secret">([^<]+)<', html).group(1)  # type: ignore[union-attr]
    stored = _client(platform, client_id)
    assert stored["digest"] == keyed_digest(platform.settings.secret_key, secret)
    assert stored["redirect_uris"] == ["https://bdc.example.gov.cn/cb",
                                       "https://bdc.example.gov.cn/cb2"]
    assert (stored["min_realname_level"], stored["require_mfa"], stored["scope"]) == \
        (2, True, "openid profile realname")
    assert secret not in admin.get(f"/admin/clients/{client_id}").get_data(as_text=True)
    [event] = _audits(platform, "oidc:client:create")
    assert event.actor == "staff:c-client_admin" and event.target == f"client:{client_id}"


@pytest.mark.parametrize(("change", "field"), [
    ({"name": ""}, "name"),
    ({"redirect_uris": "javascript:alert(1)"}, "redirect_uris"),
    ({"redirect_uris": "https://a.example/cb#frag"}, "redirect_uris"),
    ({"redirect_uris": ""}, "redirect_uris"),  # the code grant needs one
    ({"backchannel_logout_uri": "not a uri"}, "backchannel_logout_uri"),
    ({"allowed_account_kinds": []}, "allowed_account_kinds"),
    ({"min_realname_level": "4"}, "min_realname_level"),
    ({"min_realname_level": "二"}, "min_realname_level"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": "{not json"}, "jwks"),
    ({"public": "on", "grant_types": ["client_credentials"]}, "grant_types"),
])
def test_register_refuses_bad_fields_and_creates_nothing(admin, platform, change,
                                                         field) -> None:
    resp = _post(admin, "/admin/clients", {**FORM, **change})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert f'id="e-{field}"' in html and 'id="form-error"' in html
    assert 'value="不动产登记系统"' in html or change.get("name") == ""  # input kept
    with platform.db.session() as session:
        assert client_service.list_clients(session) == []
    assert _audits(platform, "oidc:client:create") == []


def test_edited_policy_applies_to_the_next_authorize(admin, client, platform, citizen) -> None:
    rp = register(platform)  # minimum level 1
    sign_in(client, platform, citizen, level=1)
    assert "code" in query(authorize(client, auth_params(rp, Pkce())).location)
    form = {**FORM, "name": "社保服务", "redirect_uris": rp.redirect_uri,
            "min_realname_level": "3", "require_mfa": ""}
    resp = _post(admin, f"/admin/clients/{rp.client_id}/edit", form)
    assert resp.status_code == 302 and "saved=1" in resp.location
    resp = authorize(client, auth_params(rp, Pkce()))
    assert resp.status_code == 302 and resp.location.startswith("/login")  # level 3 needed
    stored = _client(platform, rp.client_id)
    assert stored["min_realname_level"] == 3 and stored["require_mfa"] is False
    [event] = _audits(platform, "oidc:client:update")
    assert "min_realname_level" in event.details["changed"]
    assert event.actor == "staff:c-client_admin"


def test_edit_with_a_bad_uri_changes_nothing(admin, platform) -> None:
    rp = register(platform)
    before = _client(platform, rp.client_id)
    resp = _post(admin, f"/admin/clients/{rp.client_id}/edit",
                 {**FORM, "redirect_uris": "https://ok.example/cb\nvbscript:x",
                  "min_realname_level": "3"})
    assert resp.status_code == 400 and 'id="e-redirect_uris"' in resp.get_data(as_text=True)
    assert _client(platform, rp.client_id) == before
    assert _audits(platform, "oidc:client:update") == []


def test_rotate_secret_shows_a_new_one_and_the_old_stops(admin, platform) -> None:
    rp = register(platform)
    resp = _post(admin, f"/admin/clients/{rp.client_id}/rotate-secret", {})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    new = re.search(r'id="client-secret">([^<]+)<',  # type: ignore[union-attr]
                    resp.get_data(as_text=True)).group(1)
    digest = _client(platform, rp.client_id)["digest"]
    assert digest == keyed_digest(platform.settings.secret_key, new)
    assert digest != keyed_digest(platform.settings.secret_key, rp.secret or "")
    assert [e.actor for e in _audits(platform, "oidc:client:rotate-secret")] == \
        ["staff:c-client_admin"]


def test_rotate_secret_of_a_public_client_is_refused(admin, platform) -> None:
    rp = register(platform, public=True, grant_types=["authorization_code"])
    resp = _post(admin, f"/admin/clients/{rp.client_id}/rotate-secret", {})
    assert resp.status_code == 409 and 'id="error"' in resp.get_data(as_text=True)
    assert _audits(platform, "oidc:client:rotate-secret") == []


def test_disable_needs_confirmation_then_stops_authorize(admin, client, platform,
                                                         citizen) -> None:
    rp = register(platform)
    resp = _post(admin, f"/admin/clients/{rp.client_id}/disable", {})
    assert resp.status_code == 302 and "confirm=1" in resp.location
    assert _client(platform, rp.client_id)["disabled"] is False
    resp = _post(admin, f"/admin/clients/{rp.client_id}/disable", {"confirm": "yes"})
    assert resp.status_code == 302
    assert _client(platform, rp.client_id)["disabled"] is True
    sign_in(client, platform, citizen)
    assert "code" not in query(authorize(client, auth_params(rp, Pkce())).location or "?")
    page = admin.get(f"/admin/clients/{rp.client_id}").get_data(as_text=True)
    assert "已停用" in page and 'id="rotate"' not in page


def test_usage_shows_tokens_and_last_use(admin, client, platform, citizen) -> None:
    rp = register(platform)
    sign_in(client, platform, citizen)
    tokens(client, rp, Pkce())
    tokens(client, rp, Pkce())
    page = admin.get(f"/admin/clients/{rp.client_id}").get_data(as_text=True)
    assert '<strong id="tokens-30d">2</strong>' in page
    assert "30 天内未使用" not in page
    assert 'role="img"' in page and "<table" in page  # chart and its table
    listing = admin.get("/admin/clients").get_data(as_text=True)
    row = listing[listing.index(rp.client_id):]
    assert '<td class="num" data-label="近 30 天令牌">2</td>' in row[:600]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.DEPARTMENT_HEAD, Role.AUDITOR])
def test_readers_see_clients_without_change_buttons(app, platform, role) -> None:
    rp = register(platform)
    browser = _staff(app, platform, role)
    listing = browser.get("/admin/clients")
    assert listing.status_code == 200 and "社保服务" in listing.get_data(as_text=True)
    assert 'id="new-client"' not in listing.get_data(as_text=True)
    page = browser.get(f"/admin/clients/{rp.client_id}").get_data(as_text=True)
    for control in ('id="edit"', 'id="rotate"', 'id="disable"'):
        assert control not in page


def test_unknown_client_is_404(admin) -> None:
    assert admin.get("/admin/clients/no-such-client").status_code == 404
    assert admin.get("/admin/clients/no-such-client/edit").status_code == 404


def test_pages_carry_no_inline_style_or_script(admin, platform) -> None:
    rp = register(platform)
    for path in ("/admin/clients", "/admin/clients/new", f"/admin/clients/{rp.client_id}",
                 f"/admin/clients/{rp.client_id}/edit"):
        html = admin.get(path).get_data(as_text=True)
        assert "style=" not in html and "<script" not in html and "<style" not in html, path
