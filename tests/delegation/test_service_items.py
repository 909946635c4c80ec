"""Declared service items are the units of delegated authority (issue 4 item 7, R-42, R-54):
offered when choosing a scope, enforced on grants (``unknown_service_item``), and a change of
a client's items applies from the next request."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from idp.oidc.models import Client
from tests.delegation.helpers import CREDIT_CODE, Tree, days
from tests.delegation.surface import Apps, browser_as, departments

BASE = f"/api/v1/orgs/{CREDIT_CODE}/grants"
ITEMS = [{"code": "licence:apply", "name": "营业执照申请", "name_en": "Licence application"},
         {"code": "licence:change", "name": "营业执照变更", "name_en": "Licence change"}]


@pytest.fixture
def apps(app, tree: Tree) -> Apps:  # type: ignore[no-untyped-def]
    departments(tree.platform)
    return Apps(app, tree)


def declare(tree: Tree, client_id: str, items: list[dict[str, str]]) -> None:
    """As `idp clients edit --service-item` would (the test departments' scopes are not
    registrable ones, surface.py, so the row is changed directly, still through the ORM)."""
    with tree.platform.db.session() as db:
        db.execute(update(Client).where(Client.client_id == client_id)
                   .values(service_items=items))


def offered(client, apps: Apps) -> dict[str, list[str]]:
    found = client.get(f"/api/v1/orgs/{CREDIT_CODE}/service-items",
                       headers=apps.headers("rep")).get_json()["clients"]
    return {c["client_id"]: c["items"] for c in found}


def grant(client, tree: Tree, apps: Apps, item: str):  # type: ignore[no-untyped-def]
    return client.post(BASE, headers=apps.headers("rep"), json={
        "grantee": tree.phone("d"), "scope": [{"client_id": "dept-b", "item": item}],
        "valid_until": (days(5)).isoformat()})


def test_declared_items_replace_scopes_from_the_next_request(client, tree: Tree, apps: Apps):
    assert offered(client, apps)["dept-b"] == ["*", "openid", "read"]  # none declared yet
    declare(tree, "dept-b", ITEMS)
    assert offered(client, apps)["dept-b"] == ["*", "licence:apply", "licence:change"]
    policy = client.get("/api/v1/clients/dept-b/service-items", headers=apps.headers("d"))
    assert policy.get_json()["service_items"] == ["*", "licence:apply", "licence:change"]


@pytest.mark.parametrize(("item", "status", "code"), [
    pytest.param("licence:apply", 201, None, id="declared"),
    pytest.param("*", 201, None, id="whole-system"),
    pytest.param("read", 422, "unknown_service_item", id="scope-no-longer-offered"),
    pytest.param("licence:close", 422, "unknown_service_item", id="undeclared"),
])
def test_grants_name_only_declared_items(client, tree: Tree, apps: Apps, item, status, code):
    declare(tree, "dept-b", ITEMS)
    resp = grant(client, tree, apps, item)
    assert resp.status_code == status, resp.get_json()
    if code:
        assert resp.get_json()["type"] == f"urn:idp:problem:{code}"


def test_grant_page_offers_declared_items_by_name(app, client, tree: Tree, apps: Apps):
    declare(tree, "dept-b", ITEMS)
    page = browser_as(app, tree, "rep").get(f"/account/orgs/{CREDIT_CODE}/grant")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'value="dept-b licence:apply"> 营业执照申请 <span class="mono">licence:apply' in text
    assert 'value="dept-b read"' not in text  # a scope, no longer an item of dept-b
    found = client.get(f"/api/v1/orgs/{CREDIT_CODE}/service-items",
                       headers=apps.headers("rep")).get_json()["clients"]
    names = {c["client_id"]: c["names"] for c in found}
    assert names["dept-b"]["licence:apply"] == ["营业执照申请", "Licence application"]
    assert names["dept-a"] == {}
    english = browser_as(app, tree, "rep").get(f"/account/orgs/{CREDIT_CODE}/grant",
                                               headers={"Accept-Language": "en"})
    assert "> Licence application <span" in english.get_data(as_text=True)
