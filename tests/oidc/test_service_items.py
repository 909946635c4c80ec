"""Service items and exchange audiences on a client's access policy (issue 4 item 7, R-54):
declared through the CLI, the console JSON API and its OpenAPI document; bad declarations
refused as tables; a change applies from the next request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from idp.oidc import service_items
from idp.oidc.clients import TOKEN_EXCHANGE
from idp.oidc.service_items import ServiceItemError
from idp.staff.directory import Role
from tests.admin.helpers import api_token, make_local_staff
from tests.oidc.helpers import register

HOUSING = {"code": "housing:apply", "name": "住房申请", "name_en": "Housing application"}


@pytest.mark.parametrize(("given", "expected"), [
    (["housing:apply=住房申请|Housing application"], [HOUSING]),
    (["tax/report=纳税申报"], [{"code": "tax/report", "name": "纳税申报",
                                "name_en": "纳税申报"}]),
    ([{"code": "housing:apply", "name": " 住房申请 ", "name_en": "Housing application"}],
     [HOUSING]),
    ([], []),
])
def test_declarations_are_normalised(given, expected):
    assert service_items.parse(given) == expected


@pytest.mark.parametrize("given", [
    pytest.param(["housing:apply"], id="no-name"),
    pytest.param(["=住房申请"], id="no-code"),
    pytest.param(["*=全部"], id="wildcard-code"),
    pytest.param(["住房=住房申请"], id="non-ascii-code"),
    pytest.param(["a b=名称"], id="space-in-code"),
    pytest.param(["x=" + "名" * 101], id="name-too-long"),
    pytest.param(["x=  "], id="blank-name"),
    pytest.param(["x=甲", "x=乙"], id="duplicate-code"),
    pytest.param([{"code": "x"}], id="dict-without-name"),
    pytest.param([{"code": "x", "name": "甲", "extra": "1"}], id="unknown-key"),
    pytest.param([{"code": 1, "name": "甲"}], id="code-not-text"),
    pytest.param([42], id="not-an-item"),
    pytest.param([f"i{n}=事项" for n in range(101)], id="too-many"),
])
def test_bad_declarations_are_refused(given):
    with pytest.raises(ServiceItemError):
        service_items.parse(given)


# -- CLI --------------------------------------------------------------------------------------


def _show(run, client_id: str) -> dict[str, Any]:
    result = run("clients", "show", client_id)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_cli_create_and_edit_service_items_and_audiences(idp_cli, platform):
    target = register(platform, name="住建服务")
    made = idp_cli("clients", "create", "--name", "市场监管", "--redirect-uri",
                   "https://scjg.example.gov.cn/cb", "--grant-type", "authorization_code",
                   "--grant-type", TOKEN_EXCHANGE, "--service-item",
                   "housing:apply=住房申请|Housing application", "--service-item",
                   "licence=营业执照", "--exchange-audience", target.client_id, "--json")
    assert made.exit_code == 0, made.output
    client_id = json.loads(made.output)["client_id"]
    shown = _show(idp_cli, client_id)
    assert shown["service_items"] == [HOUSING, {"code": "licence", "name": "营业执照",
                                                "name_en": "营业执照"}]
    assert shown["exchange_audiences"] == [target.client_id]
    assert TOKEN_EXCHANGE in shown["grant_types"]

    edited = idp_cli("clients", "edit", client_id, "--service-item", "tax=纳税|Tax",
                     "--clear-exchange-audiences", "--min-level", "2", "--require-mfa")
    assert edited.exit_code == 0, edited.output
    assert "service_items" in edited.output and "exchange_audiences" in edited.output
    shown = _show(idp_cli, client_id)
    assert shown["service_items"] == [{"code": "tax", "name": "纳税", "name_en": "Tax"}]
    assert shown["exchange_audiences"] == []
    assert shown["min_realname_level"] == 2 and shown["require_mfa"] is True
    assert "nothing changed" in idp_cli("clients", "edit", client_id, "--min-level",
                                        "2").output


@pytest.mark.parametrize("args", [
    pytest.param(["--service-item", "housing:apply"], id="item-without-name"),
    pytest.param(["--service-item", "x=甲", "--service-item", "x=乙"], id="duplicate-item"),
    pytest.param(["--exchange-audience", "has space"], id="bad-audience"),
    pytest.param(["--public", "--grant-type", TOKEN_EXCHANGE], id="public-exchange"),
])
def test_cli_refuses_bad_policy(idp_cli, args):
    result = idp_cli("clients", "create", "--name", "App", "--redirect-uri",
                     "https://app.example.gov.cn/cb", *args)
    assert result.exit_code == 2
    assert result.output.startswith("error:") or "error:" in result.output


@pytest.mark.parametrize("args", [
    pytest.param(["--service-item", "*=全部"], id="wildcard-item"),
    pytest.param(["--exchange-audience", "x" * 65], id="audience-too-long"),
])
def test_cli_edit_refuses_and_keeps_the_policy(idp_cli, platform, args):
    rp = register(platform, service_items=[HOUSING])
    result = idp_cli("clients", "edit", rp.client_id, *args)
    assert result.exit_code == 2 and "error:" in result.output
    assert _show(idp_cli, rp.client_id)["service_items"] == [HOUSING]


def test_cli_edit_unknown_client(idp_cli):
    result = idp_cli("clients", "edit", "nope", "--min-level", "2")
    assert result.exit_code == 2 and "no client" in result.output


# -- console JSON API -------------------------------------------------------------------------


@pytest.fixture
def admin_api(app, platform):  # type: ignore[no-untyped-def]
    http = app.test_client()
    user = make_local_staff(platform, "api-items", [Role.PLATFORM_ADMIN])
    headers = {"Authorization": f"Bearer {api_token(http, platform, user)}"}

    def call(method: str, path: str, body: Any = None) -> Any:
        return http.open(f"/api/v1/admin{path}", method=method, json=body, headers=headers)
    return call


def test_api_declares_and_changes_service_items(admin_api, platform):
    target = register(platform, name="住建服务")
    resp = admin_api("POST", "/clients", {
        "name": "市场监管", "redirect_uris": ["https://scjg.example.gov.cn/cb"],
        "grant_types": ["authorization_code", TOKEN_EXCHANGE], "service_items": [HOUSING],
        "exchange_audiences": [target.client_id]})
    assert resp.status_code == 201, resp.json
    created = resp.json["client"]
    assert created["service_items"] == [HOUSING]
    assert created["exchange_audiences"] == [target.client_id]
    client_id = created["client_id"]
    changed = admin_api("PATCH", f"/clients/{client_id}", {
        "service_items": [HOUSING, {"code": "licence", "name": "营业执照"}]})
    assert changed.status_code == 200 and changed.json["changed"] == ["service_items"]
    assert changed.json["client"]["service_items"][1] == {
        "code": "licence", "name": "营业执照", "name_en": "营业执照"}
    same = admin_api("PATCH", f"/clients/{client_id}", {"service_items": [
        HOUSING, {"code": "licence", "name": "营业执照", "name_en": "营业执照"}]})
    assert same.json["changed"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"service_items": "housing"}, "service_items"),
    ({"service_items": [{"code": "a b", "name": "甲"}]}, "service_items"),
    ({"service_items": [{"code": "x", "name": "甲"}, {"code": "x", "name": "乙"}]},
     "service_items"),
    ({"service_items": [{"code": "x"}]}, "service_items"),
    ({"exchange_audiences": "abc"}, "exchange_audiences"),
    ({"exchange_audiences": ["a b"]}, "exchange_audiences"),
    ({"exchange_audiences": [f"c{n}" for n in range(21)]}, "exchange_audiences"),
])
def test_api_refuses_bad_policy_and_writes_nothing(admin_api, platform, body, field):
    rp = register(platform, service_items=[HOUSING])
    resp = admin_api("PATCH", f"/clients/{rp.client_id}", body)
    assert resp.status_code == 422, resp.json
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in resp.json["errors"]] == [field]
    assert admin_api("GET", f"/clients/{rp.client_id}").json["client"]["service_items"] == [
        HOUSING]


def test_openapi_documents_the_policy_fields(client):
    schemas = client.get("/api/openapi.json").json["components"]["schemas"]
    for name in ("ClientRegistration", "ClientChanges", "RegisteredClient"):
        props = schemas[name]["properties"]
        assert props["service_items"]["items"]["required"] == ["code", "name"]
        assert props["exchange_audiences"]["type"] == "array"


# -- console pages ----------------------------------------------------------------------------


@pytest.fixture
def console(app, platform):  # type: ignore[no-untyped-def]
    from tests.admin.helpers import STAFF_PASSWORD, page_sign_in

    browser = app.test_client()
    page_sign_in(browser, make_local_staff(platform, "c-items", [Role.CLIENT_ADMIN]),
                 STAFF_PASSWORD)
    return browser


def _edit_form(console, rp, **fields: str) -> Any:
    from tests.admin.helpers import csrf

    page = console.get(f"/admin/clients/{rp.client_id}/edit").get_data(as_text=True)
    assert 'name="service_items"' in page and 'name="exchange_audiences"' in page
    form = {"name": "社保服务", "redirect_uris": rp.redirect_uri,
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": ["openid", "profile"], "allowed_account_kinds": ["natural"],
            "min_realname_level": "1", "id_token_signed_response_alg": "ES256",
            "subject_type": "public", **fields}
    return console.post(f"/admin/clients/{rp.client_id}/edit",
                        data={**form, "csrf_token": csrf(console, "/admin/")})


def test_console_edits_service_items_and_audiences(console, platform, idp_cli):
    rp = register(platform, service_items=[HOUSING])
    page = console.get(f"/admin/clients/{rp.client_id}/edit").get_data(as_text=True)
    assert "housing:apply=住房申请|Housing application" in page  # shown as typed
    resp = _edit_form(console, rp, service_items="housing:apply=住房申请|Housing application\n"
                      "tax=纳税\n", exchange_audiences="dept-b\n")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    shown = _show(idp_cli, rp.client_id)
    assert shown["service_items"] == [HOUSING, {"code": "tax", "name": "纳税",
                                                "name_en": "纳税"}]
    assert shown["exchange_audiences"] == ["dept-b"]


@pytest.mark.parametrize("items", ["housing:apply", "*=全部", "x=甲\nx=乙"])
def test_console_refuses_bad_items_and_keeps_them(console, platform, idp_cli, items):
    rp = register(platform, service_items=[HOUSING])
    resp = _edit_form(console, rp, service_items=items)
    assert resp.status_code == 400 and 'id="e-service_items"' in resp.get_data(as_text=True)
    assert _show(idp_cli, rp.client_id)["service_items"] == [HOUSING]
