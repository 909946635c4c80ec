"""Department systems through the console JSON API (issue 5 item 6; R-54, R-60)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import ECKey
from sqlalchemy import select

from idp.audit.models import AuditRecord
from idp.crypto import keyed_digest
from idp.oidc import clients as client_service
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.helpers import api_token, make_local_staff
from tests.oidc.helpers import Pkce, auth_params, authorize, query, register, sign_in, tokens

BODY = {"name": "公积金查询", "redirect_uris": ["https://gjj.example.gov.cn/cb"],
        "grant_types": ["authorization_code", "refresh_token"], "scope": "openid profile",
        "backchannel_logout_uri": "https://gjj.example.gov.cn/bcl",
        "allowed_account_kinds": ["natural", "legal_acting"], "min_realname_level": 2}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


class Api:
    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.open(f"/api/v1/admin{path}", method=method, json=body,
                                headers=self.headers)


def _api(app: Flask, platform: Platform, role: Role) -> Api:
    client = app.test_client()
    user = make_local_staff(platform, f"api-{role.value}", [role])
    return Api(client, api_token(client, platform, user))


@pytest.fixture
def api(app: Flask, platform: Platform) -> Api:
    return _api(app, platform, Role.PLATFORM_ADMIN)


def _count(platform: Platform) -> int:
    with platform.db.session() as session:
        return len(client_service.list_clients(session))


def test_create_returns_the_secret_once(api, platform) -> None:
    resp = api("POST", "/clients", BODY)
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    client, secret = resp.json["client"], resp.json["client_secret"]
    assert client["allowed_account_kinds"] == ["natural", "legal_acting"]
    assert client["min_realname_level"] == 2 and client["disabled"] is False
    with platform.db.session() as session:
        stored = client_service.get(session, client["client_id"])
        assert stored.secret_digest == keyed_digest(platform.settings.secret_key, secret)
    detail = api("GET", f"/clients/{client['client_id']}")
    assert detail.status_code == 200 and secret not in detail.get_data(as_text=True)


def test_create_private_key_jwt_client_with_inline_jwks(api) -> None:
    key = ECKey.generate_key("P-256", private=True)
    jwks = {"keys": [key.as_dict(private=False)]}
    resp = api("POST", "/clients", {**BODY, "token_endpoint_auth_method": "private_key_jwt",
                                    "jwks": jwks})
    assert resp.status_code == 201
    assert resp.json["client_secret"] is None
    assert resp.json["client"]["token_endpoint_auth_method"] == "private_key_jwt"
    rotate = api("POST", f"/clients/{resp.json['client']['client_id']}/secret")
    assert rotate.status_code == 409 and rotate.json["type"].endswith(":no_secret")


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"redirect_uris": ["data:text/html,x"]}, "redirect_uris", "invalid"),
    ({"redirect_uris": "https://a.example/cb"}, "redirect_uris", "type"),
    ({"redirect_uris": [f"https://a.example/{i}" for i in range(21)]}, "redirect_uris",
     "too_many"),
    ({"scope": "openid admin"}, "scope", "invalid"),
    ({"scope": 7}, "scope", "type"),
    ({"min_realname_level": True}, "min_realname_level", "type"),
    ({"min_realname_level": 0}, "min_realname_level", "invalid"),
    ({"allowed_account_kinds": ["robot"]}, "allowed_account_kinds", "invalid"),
    ({"grant_types": ["implicit"]}, "grant_types", "invalid"),
    ({"name": "x" * 201}, "name", "too_long"),
    ({"id_token_signed_response_alg": "none"}, "id_token_signed_response_alg", "invalid"),
    ({"subject_type": "global"}, "subject_type", "invalid"),
    ({"token_endpoint_auth_method": "tls_client_auth"}, "token_endpoint_auth_method",
     "invalid"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "??"}]}},
     "jwks", "invalid"),
    ({"require_mfa": "yes please"}, "require_mfa", "type"),
    ({"secret_digest": "x"}, "secret_digest", "unknown"),
])
def test_create_refuses_bad_fields(api, platform, body, field, code) -> None:
    resp = api("POST", "/clients", {**BODY, **body})
    assert resp.status_code == 422, resp.json
    errors = {e["field"]: e["code"] for e in resp.json["errors"]}
    assert field in errors
    assert errors[field] == code
    assert _count(platform) == 0


@pytest.mark.parametrize("raw", ["[]", "not json", '"text"'])
def test_create_refuses_a_body_that_is_not_an_object(api, platform, raw) -> None:
    resp = api.client.post("/api/v1/admin/clients", data=raw, headers={
        **api.headers, "Content-Type": "application/json"})
    assert resp.status_code == 400 and _count(platform) == 0


def test_patch_changes_only_sent_fields_and_applies_at_once(api, client, platform,
                                                            citizen) -> None:
    rp = register(platform)
    sign_in(client, platform, citizen, level=1)
    assert "code" in query(authorize(client, auth_params(rp, Pkce())).location)
    resp = api("PATCH", f"/clients/{rp.client_id}", {"min_realname_level": 2,
                                                     "name": "社保服务"})
    assert resp.status_code == 200
    assert resp.json["changed"] == ["min_realname_level"]  # the name was the same
    assert resp.json["client"]["redirect_uris"] == [rp.redirect_uri]
    assert authorize(client, auth_params(rp, Pkce())).location.startswith("/login")
    again = api("PATCH", f"/clients/{rp.client_id}", {"min_realname_level": 2})
    assert again.json["changed"] == []
    with platform.db.session() as session:
        assert len(session.scalars(select(AuditRecord).where(
            AuditRecord.action == "oidc:client:update")).all()) == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"public": True}, "public"),
    ({"token_endpoint_auth_method": "client_secret_post"}, "token_endpoint_auth_method"),
    ({"redirect_uris": []}, "redirect_uris"),  # the code grant still needs one
    ({"grant_types": ["client_credentials"], "scope": "openid nope"}, "scope"),
])
def test_patch_refuses_and_writes_nothing(api, platform, body, field) -> None:
    rp = register(platform)
    with platform.db.session() as session:
        before = client_service.describe(client_service.get(session, rp.client_id))
    resp = api("PATCH", f"/clients/{rp.client_id}", body)
    assert resp.status_code == 422
    assert field in {e["field"] for e in resp.json["errors"]}
    with platform.db.session() as session:
        assert client_service.describe(client_service.get(session, rp.client_id)) == before


def test_unknown_client_is_404_everywhere(api) -> None:
    for method, path in (("GET", "/clients/nope"), ("PATCH", "/clients/nope"),
                         ("POST", "/clients/nope/secret"), ("POST", "/clients/nope/disable")):
        resp = api(method, path, {} if method == "PATCH" else None)
        assert resp.status_code == 404, (method, path)


def test_rotate_and_disable(api, platform) -> None:
    rp = register(platform)
    resp = api("POST", f"/clients/{rp.client_id}/secret")
    assert resp.status_code == 200 and resp.json["client_secret"] != rp.secret
    with platform.db.session() as session:
        stored = client_service.get(session, rp.client_id)
        assert stored.secret_digest == keyed_digest(platform.settings.secret_key,
                                                    resp.json["client_secret"])
    resp = api("POST", f"/clients/{rp.client_id}/disable")
    assert resp.status_code == 200 and resp.json["client"]["disabled"] is True
    assert api("POST", f"/clients/{rp.client_id}/disable").status_code == 200  # idempotent
    with platform.db.session() as session:
        assert len(session.scalars(select(AuditRecord).where(
            AuditRecord.action == "oidc:client:disable")).all()) == 1


def test_list_and_detail_show_usage(api, client, platform, citizen) -> None:
    rp = register(platform)
    idle = register(platform, name="闲置系统")
    sign_in(client, platform, citizen)
    tokens(client, rp, Pkce())
    listed = {c["client_id"]: c for c in api("GET", "/clients").json["clients"]}
    assert listed[rp.client_id]["tokens_30d"] == 1 and listed[rp.client_id]["last_use"]
    assert listed[idle.client_id]["tokens_30d"] == 0
    assert listed[idle.client_id]["last_use"] is None
    usage = api("GET", f"/clients/{rp.client_id}").json["usage"]
    assert len(usage["days"]) == 30 and usage["tokens"][-1] == 1
    assert usage["authorizations"][-1] == 1 and usage["last_use"]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.AUDITOR])
def test_readers_may_not_change(app, platform, role) -> None:
    rp = register(platform)
    api = _api(app, platform, role)
    assert api("GET", "/clients").status_code == 200
    assert api("PATCH", f"/clients/{rp.client_id}", {"min_realname_level": 3}).status_code \
        == 403
    assert api("POST", "/clients", BODY).status_code == 403


def test_operations_are_in_the_openapi_document(client) -> None:
    paths = client.get("/api/openapi.json").json["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/admin/clients"])
    assert {"get", "patch"} <= set(paths["/api/v1/admin/clients/{client_id}"])
    assert "post" in paths["/api/v1/admin/clients/{client_id}/secret"]
    assert "post" in paths["/api/v1/admin/clients/{client_id}/disable"]
    assert "get" in paths["/api/v1/admin/dashboard"]
