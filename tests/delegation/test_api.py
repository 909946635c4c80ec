"""The delegation JSON API (R-42, R-54; issue 4 items 4 and 7): every operation, its
refusals as problem details, who may see what, and the OpenAPI document."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from idp.delegation import overview
from idp.delegation.errors import MESSAGES
from idp.delegation.invariants import violations
from idp.delegation.models import Grant
from idp.orgs.service import MESSAGES as ORG_MESSAGES
from tests.delegation.helpers import CREDIT_CODE, Tree, days, id_number, phone
from tests.delegation.surface import Apps, departments
from tests.oidc.helpers import register
from tests.qr.helpers import signed_in_app

OTHER_CODE = "91350100M000300Y5M"
BASE = f"/api/v1/orgs/{CREDIT_CODE}/grants"
OPS = {
    ("/api/v1/me/grants", "get"), ("/api/v1/orgs/{credit_code}/grants", "get"),
    ("/api/v1/orgs/{credit_code}/grants", "post"),
    ("/api/v1/orgs/{credit_code}/grants/applications", "post"),
    ("/api/v1/orgs/{credit_code}/grants/{grant_id}/approve", "post"),
    ("/api/v1/orgs/{credit_code}/grants/{grant_id}/refuse", "post"),
    ("/api/v1/orgs/{credit_code}/grants/{grant_id}", "patch"),
    ("/api/v1/orgs/{credit_code}/grants/{grant_id}", "delete"),
    ("/api/v1/orgs/{credit_code}/service-items", "get"),
    ("/api/v1/clients/{client_id}/service-items", "get"),
}


@pytest.fixture
def apps(app, tree: Tree) -> Apps:  # type: ignore[no-untyped-def]
    departments(tree.platform)
    return Apps(app, tree)


def iso(at: dt.datetime) -> str:
    return at.isoformat()


def statuses(tree: Tree) -> dict[int, str]:
    with tree.platform.db.session() as db:
        return {g.id: g.status for g in db.scalars(select(Grant))}


def test_operations_in_openapi(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {(p, m) for p, m in OPS if m in paths.get(p, {})} == OPS
    assert paths["/api/v1/me/grants"]["get"]["security"] == [{"bearer": []}]


def test_every_refusal_code_has_a_status():
    assert set(MESSAGES) <= set(overview.STATUS_BY_CODE)
    assert {"org_not_found", "org_inactive"} <= set(ORG_MESSAGES) & set(overview.STATUS_BY_CODE)
    assert {overview.status_for(c) for c in MESSAGES} <= {403, 404, 409, 422}


def test_representative_sees_the_whole_tree_masked(client, tree: Tree, apps: Apps):
    resp = client.get(BASE, headers=apps.headers("rep"))
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    body = resp.get_json()
    assert body["role"] == "representative" and body["org"]["credit_code"] == CREDIT_CODE
    assert [g["level"] for g in body["tree"]] == [1, 2, 3]
    a = body["tree"][0]
    assert a["grantee"]["name"] == "张*" and a["grantee"]["phone"] == "139****0002"
    assert {"client_id": "dept-b", "item": "read"} in a["scope"]
    assert phone(2) not in resp.get_data(as_text=True)
    assert id_number(2) not in resp.get_data(as_text=True)


def test_grantee_sees_what_they_hold_and_gave_only(client, tree: Tree, apps: Apps):
    body = client.get(BASE, headers=apps.headers("b")).get_json()
    assert body["role"] == "delegate" and body["tree"] == []
    assert [g["id"] for g in body["held"]] == [tree.grants["b"]]
    assert [g["id"] for g in body["given"]] == [tree.grants["c"]]
    outsider = client.get(BASE, headers=apps.headers("d"))
    assert outsider.status_code == 404 and outsider.mimetype == "application/problem+json"
    assert outsider.get_json()["type"] == "urn:idp:problem:org_not_found"


def test_me_grants_lists_enterprises_with_role(client, tree: Tree, apps: Apps):
    rep = client.get("/api/v1/me/grants", headers=apps.headers("rep")).get_json()
    assert [(o["credit_code"], o["role"]) for o in rep["orgs"]] == [
        (CREDIT_CODE, "representative")]
    a = client.get("/api/v1/me/grants", headers=apps.headers("a")).get_json()
    assert a["orgs"][0]["role"] == "delegate"
    assert [g["id"] for g in a["held"]] == [tree.grants["a"]]
    assert client.get("/api/v1/me/grants",
                      headers=apps.headers("d")).get_json() == {"orgs": [], "held": [],
                                                                "given": []}


def test_grant_by_phone_then_grantee_holds_it(client, tree: Tree, apps: Apps):
    resp = client.post(BASE, headers=apps.headers("rep"), json={
        "grantee": tree.phone("d"), "scope": [{"client_id": "dept-b", "item": "read"}],
        "valid_until": iso(days(30))})
    assert resp.status_code == 201, resp.get_json()
    made = resp.get_json()
    assert made["level"] == 1 and made["grantee"]["phone"] == "139****0005"
    held = client.get(BASE, headers=apps.headers("d")).get_json()["held"]
    assert [g["id"] for g in held] == [made["id"]]
    assert any("已获授权" in m.text for m in tree.platform.sms.messages(tree.phone("d")))


def test_redelegation_within_own_scope(client, tree: Tree, apps: Apps):
    items = client.get(f"/api/v1/orgs/{CREDIT_CODE}/service-items",
                       query_string={"parent_grant_id": tree.grants["a"]},
                       headers=apps.headers("a")).get_json()["clients"]
    assert {c["client_id"]: c["items"] for c in items} == {
        "dept-a": ["*", "licence", "openid", "read", "tax"], "dept-b": ["read"]}
    resp = client.post(BASE, headers=apps.headers("a"), json={
        "grantee": id_number(5), "scope": [{"client_id": "dept-b", "item": "read"}],
        "valid_until": iso(days(10)), "parent_grant_id": tree.grants["a"]})
    assert resp.status_code == 201 and resp.get_json()["level"] == 2


@pytest.mark.parametrize(("who", "body", "status", "code"), [
    pytest.param("rep", {"grantee": "13900009999"}, 404, "person_not_found", id="unknown"),
    pytest.param("a", {}, 403, "not_authorised", id="not-representative"),
    pytest.param("rep", {"grantee": phone(1)}, 422, "self_grant", id="self"),
    pytest.param("rep", {"grantee": phone(2)}, 409, "duplicate", id="duplicate"),
    pytest.param("rep", {"valid_until": "2020-01-01T00:00:00+08:00"}, 422,
                 "invalid_validity", id="past"),
    pytest.param("rep", {"valid_until": "2030-01-01T00:00:00"}, 422, "validation",
                 id="naive-time"),
    pytest.param("rep", {"valid_until": "tomorrow"}, 422, "validation", id="not-a-time"),
    pytest.param("rep", {"scope": []}, 422, "empty_scope", id="empty-scope"),
    pytest.param("rep", {"scope": [{"client_id": "nope", "item": "*"}]}, 422,
                 "invalid_scope", id="unknown-client"),
    pytest.param("rep", {"scope": [{"client_id": "dept-b", "item": "tax"}]}, 422,
                 "unknown_service_item", id="item-not-offered"),
    pytest.param("rep", {"scope": ["dept-b"]}, 422, "invalid_scope", id="scope-shape"),
    pytest.param("rep", {"scope": "dept-b"}, 422, "validation", id="scope-type"),
    pytest.param("rep", {"may_redelegate": "yes"}, 422, "validation", id="flag-type"),
    pytest.param("c", {"parent_grant_id": 10**6}, 404, "grant_not_found", id="no-parent"),
])
def test_grant_refusals(client, tree: Tree, apps: Apps, who, body, status, code):
    before = statuses(tree)
    payload = {"grantee": tree.phone("d"), "scope": [{"client_id": "dept-b", "item": "read"}],
               "valid_until": iso(days(5)), **body}
    resp = client.post(BASE, headers=apps.headers(who), json=payload)
    assert resp.status_code == status, resp.get_json()
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["type"] == f"urn:idp:problem:{code}"
    assert statuses(tree) == before


@pytest.mark.parametrize(("parent", "body", "code"), [
    pytest.param("c", {}, "level_exceeded", id="fourth-level"),
    pytest.param("a", {"scope": [{"client_id": "dept-b", "item": "*"}]}, "scope_exceeds",
                 id="scope-beyond-own"),
    pytest.param("a", {"valid_until": iso(days(40))}, "validity_exceeds", id="too-long"),
])
def test_redelegation_refusals_are_403(client, tree: Tree, apps: Apps, parent, body, code):
    payload = {"grantee": tree.phone("d"), "scope": [{"client_id": "dept-b", "item": "read"}],
               "valid_until": iso(days(5)), "parent_grant_id": tree.grants[parent], **body}
    resp = client.post(BASE, headers=apps.headers(parent), json=payload)
    assert resp.status_code == 403 and resp.get_json()["type"].endswith(code)
    assert resp.get_json()["title"] == MESSAGES[code][0]


def test_apply_then_approve(client, tree: Tree, apps: Apps):
    resp = client.post(f"{BASE}/applications", headers=apps.headers("d"), json={
        "scope": [{"client_id": "dept-a", "item": "licence"}], "valid_until": iso(days(7))})
    assert resp.status_code == 201 and resp.get_json()["status"] == "pending"
    grant_id = resp.get_json()["id"]
    assert any("申请" in m.text for m in tree.platform.sms.messages(tree.phone("rep")))
    assert client.post(f"{BASE}/{grant_id}/approve",
                       headers=apps.headers("a")).status_code == 403
    done = client.post(f"{BASE}/{grant_id}/approve", headers=apps.headers("rep"))
    assert done.status_code == 200 and done.get_json()["status"] == "active"
    again = client.post(f"{BASE}/{grant_id}/refuse", headers=apps.headers("rep"))
    assert again.status_code == 409 and again.get_json()["type"].endswith("not_pending")


def test_apply_then_refuse(client, tree: Tree, apps: Apps):
    grant_id = client.post(f"{BASE}/applications", headers=apps.headers("d"), json={
        "scope": [{"client_id": "dept-a", "item": "*"}],
        "valid_until": iso(days(7))}).get_json()["id"]
    resp = client.post(f"{BASE}/{grant_id}/refuse", headers=apps.headers("rep"))
    assert resp.status_code == 200 and resp.get_json()["status"] == "refused"
    assert statuses(tree)[grant_id] == "refused"


def test_change_narrows_and_cascades(client, tree: Tree, apps: Apps):
    resp = client.patch(f"{BASE}/{tree.grants['a']}", headers=apps.headers("rep"),
                        json={"scope": [{"client_id": "dept-b", "item": "read"}]})
    assert resp.status_code == 200
    assert resp.get_json()["affected"] == [tree.grants[n] for n in "abc"]
    got = statuses(tree)
    assert [got[tree.grants[n]] for n in "abc"] == ["active", "cancelled", "cancelled"]
    with tree.platform.db.session() as db:
        assert violations(db, tree.org_id) == []


@pytest.mark.parametrize(("who", "grant", "body", "status", "code"), [
    pytest.param("a", "b", {"valid_until": iso(days(40))}, 403, "validity_exceeds",
                 id="widen-beyond-grantor"),
    pytest.param("c", "b", {"valid_until": iso(days(1))}, 403, "not_authorised",
                 id="below-cannot-change"),
    pytest.param("rep", "a", {"scope": []}, 422, "empty_scope", id="empty"),
    pytest.param("rep", "a", {"valid_until": 5}, 422, "validation", id="type"),
])
def test_change_refusals(client, tree: Tree, apps: Apps, who, grant, body, status, code):
    before = statuses(tree)
    resp = client.patch(f"{BASE}/{tree.grants[grant]}", headers=apps.headers(who), json=body)
    assert resp.status_code == status and resp.get_json()["type"].endswith(code)
    assert statuses(tree) == before


def test_cancel_level_1_cascades(client, tree: Tree, apps: Apps):
    resp = client.delete(f"{BASE}/{tree.grants['a']}", headers=apps.headers("rep"))
    assert resp.status_code == 200
    assert sorted(resp.get_json()["affected"]) == sorted(tree.grants.values())
    assert set(statuses(tree).values()) == {"cancelled"}
    again = client.delete(f"{BASE}/{tree.grants['a']}", headers=apps.headers("rep"))
    assert again.status_code == 409 and again.get_json()["type"].endswith("grant_not_active")


def test_grant_of_another_org_is_unknown(client, tree: Tree, apps: Apps):
    from tests.delegation.helpers import open_org

    other = OTHER_CODE
    open_org(tree.platform, tree.pid("rep"), code=other, name="另一家公司")
    resp = client.delete(f"/api/v1/orgs/{other}/grants/{tree.grants['a']}",
                         headers=apps.headers("rep"))
    assert resp.status_code == 404 and resp.get_json()["type"].endswith("grant_not_found")
    assert statuses(tree)[tree.grants["a"]] == "active"


def test_department_system_tokens_are_refused(app, client, tree: Tree, apps: Apps):
    rp = register(tree.platform, name="其他部门系统", scope="openid profile")
    token = signed_in_app(app, tree.platform, tree.people["rep"], rp=rp)
    resp = client.get(BASE, headers=token.headers())
    assert resp.status_code == 403 and resp.get_json()["type"].endswith("client_not_allowed")
    assert client.get(BASE).status_code == 401


def test_client_service_items_and_policy(client, tree: Tree, apps: Apps):
    resp = client.get("/api/v1/clients/dept-b/service-items", headers=apps.headers("d"))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["service_items"] == ["*", "openid", "read"]
    assert body["account_kinds"] == ["natural"] and body["min_realname_level"] == 1
    missing = client.get("/api/v1/clients/nope/service-items", headers=apps.headers("d"))
    assert missing.status_code == 404


def test_grantee_lookups_are_limited(client, tree: Tree, apps: Apps):
    codes = set()
    for _ in range(overview_limit() + 1):
        codes.add(client.post(BASE, headers=apps.headers("rep"), json={
            "grantee": "13900009999", "scope": [{"client_id": "dept-b", "item": "read"}],
            "valid_until": iso(days(5))}).status_code)
    assert codes == {404, 429}


def overview_limit() -> int:
    from idp.delegation.overview import GRANTEE_LOOKUPS

    return GRANTEE_LOOKUPS.count
