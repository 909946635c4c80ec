"""Keep or cancel the previous representative's grants (R-21; issue 4 item 3): the enterprise
page with its buttons, the JSON API, and ``idp delegation lapse-expired`` for cron."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from idp.audit.models import AuditRecord
from idp.delegation.authority import authority_of
from idp.delegation.models import Grant
from tests.delegation.helpers import CREDIT_CODE, Tree, days
from tests.delegation.surface import Apps, browser_as, departments
from tests.web.conftest import CSRF, with_csrf

PAGE = f"/org/{CREDIT_CODE}"
API = f"/api/v1/orgs/{CREDIT_CODE}"


@pytest.fixture
def changed(changed: Tree) -> Tree:
    """The change of representative (conftest), with the department systems registered."""
    departments(changed.platform)
    return changed


def grant(tree: Tree, name: str) -> Grant:
    with tree.platform.db.session() as db:
        found = db.get(Grant, tree.grants[name])
        assert found is not None
        return found


def post(browser, url: str, **kw):  # type: ignore[no-untyped-def]
    with_csrf(browser)
    return browser.post(url, data={"csrf_token": CSRF}, **kw)


def actions(tree: Tree) -> list[str]:
    with tree.platform.db.session() as db:
        return [e.action for e in db.scalars(select(AuditRecord).order_by(AuditRecord.seq))]


# -- the enterprise page -------------------------------------------------------------------------

def test_new_representative_sees_inherited_grants_with_buttons(app, changed: Tree) -> None:
    page = browser_as(app, changed, "e").get(PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name, below in (("a", "<summary>2</summary>"), ("d", "<td>0</td>")):
        gid = changed.grants[name]
        row = html[html.index(f'id="review-{gid}"'):]
        row = row[:row.index("</tr>")]
        assert "张*" in row and "张三" not in row, "grantee masked"
        assert below in row, "the grants below it, which go with it"
        assert f"/org/{CREDIT_CODE}/review/{gid}/keep" in row and "保留" in row
        assert f"/account/orgs/{CREDIT_CODE}/grants/{gid}/cancel" in row and "取消" in row
    a_row = html[html.index(f'id="review-{changed.grants["a"]}"'):]
    a_row = a_row[:a_row.index("</tr>")]
    assert "第 2 级 · 张* · dept-a/*" in a_row and "第 3 级 · 张* · dept-a/licence" in a_row
    assert "确认期限" in html and f'id="review-{changed.grants["b"]}"' not in html


def test_keep_on_the_page_makes_the_grant_permanent(app, changed: Tree) -> None:
    browser = browser_as(app, changed, "e")
    resp = post(browser, f"{PAGE}/review/{changed.grants['a']}/keep")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"{PAGE}?done=kept")
    kept = grant(changed, "a")
    assert kept.review_deadline is None and kept.grantor_person_id == changed.pid("e")
    html = browser.get(f"{PAGE}?done=kept").get_data(as_text=True)
    assert "已保留该授权" in html and f'id="review-{changed.grants["a"]}"' not in html
    with changed.platform.db.session() as db:  # past the old deadline the kept tree works
        assert authority_of(db, changed.pid("c"), changed.org_id, "dept-a", days(8))
        assert authority_of(db, changed.pid("d"), changed.org_id, "dept-b", days(8)) == []
    assert "delegation:keep" in actions(changed)
    assert any("确认保留" in m.text for m in changed.platform.sms.messages(changed.phone("a")))


def test_keep_page_in_english(app, changed: Tree) -> None:
    browser = browser_as(app, changed, "e")
    html = browser.get(PAGE, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Keep" in html and "Cancel" in html


@pytest.mark.parametrize(("who", "target", "status", "text"), [
    pytest.param("rep", "a", 404, "", id="previous-representative"),
    pytest.param("a", "a", 404, "", id="grantee"),
    pytest.param("e", "b", 409, "该授权无需确认", id="level-2-not-under-review"),
    pytest.param("e", "missing", 404, "", id="unknown-grant"),
])
def test_keep_on_the_page_refused(app, changed: Tree, who, target, status, text) -> None:  # type: ignore[no-untyped-def]
    gid = changed.grants.get(target, 99999)
    resp = post(browser_as(app, changed, who), f"{PAGE}/review/{gid}/keep")
    assert resp.status_code == status
    if text:
        assert text in resp.get_data(as_text=True)
    assert grant(changed, "a").review_deadline is not None


def test_keep_needs_csrf_and_a_session(app, client, changed: Tree) -> None:
    url = f"{PAGE}/review/{changed.grants['a']}/keep"
    assert browser_as(app, changed, "e").post(url).status_code == 400
    resp = post(client, url)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert grant(changed, "a").review_deadline is not None


def test_cancel_from_the_page_cascades(app, changed: Tree) -> None:
    browser = browser_as(app, changed, "e")
    url = f"/account/orgs/{CREDIT_CODE}/grants/{changed.grants['a']}/cancel"
    confirm = browser.get(url).get_data(as_text=True)
    assert "2 项授权将同时终止" in confirm
    assert post(browser, url).status_code == 302
    for name in "abc":
        assert grant(changed, name).status == "cancelled"
    html = browser.get(PAGE).get_data(as_text=True)
    assert f'id="review-{changed.grants["a"]}"' not in html
    assert f'id="review-{changed.grants["d"]}"' in html


# -- the JSON API ----------------------------------------------------------------------------

def test_api_lists_review_with_subtrees(client, app, changed: Tree) -> None:
    apps = Apps(app, changed)
    resp = client.get(f"{API}/review", headers=apps.headers("e"))
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    review = resp.get_json()["review"]
    assert [r["grant"]["id"] for r in review] == [changed.grants["a"], changed.grants["d"]]
    assert [g["id"] for g in review[0]["below"]] == [changed.grants["b"], changed.grants["c"]]
    assert review[0]["grant"]["review_deadline"] and review[0]["grant"]["grantee"]["name"] == "张*"
    assert review[1]["below"] == []


def test_api_keep_then_cancel(client, app, changed: Tree) -> None:
    apps = Apps(app, changed)
    kept = client.post(f"{API}/grants/{changed.grants['d']}/keep", headers=apps.headers("e"))
    assert kept.status_code == 200
    body = kept.get_json()["grant"]
    assert body["review_deadline"] is None and body["grantor"]["sub"] == changed.people["e"].sub  # type: ignore[attr-defined]
    cancelled = client.delete(f"{API}/grants/{changed.grants['a']}", headers=apps.headers("e"))
    assert cancelled.status_code == 200
    assert set(cancelled.get_json()["affected"]) == {changed.grants[n] for n in "abc"}
    left = client.get(f"{API}/review", headers=apps.headers("e")).get_json()["review"]
    assert left == []


@pytest.mark.parametrize(("who", "path", "status", "problem"), [
    pytest.param("rep", "review", 404, "org_not_found", id="old-rep-lists"),
    pytest.param("a", "review", 404, "org_not_found", id="grantee-lists"),
    pytest.param("rep", "grants/{a}/keep", 404, "org_not_found", id="old-rep-keeps"),
    pytest.param("a", "grants/{a}/keep", 404, "org_not_found", id="grantee-keeps"),
    pytest.param("e", "grants/{b}/keep", 409, "not_under_review", id="level-2"),
    pytest.param("e", "grants/99999/keep", 404, "grant_not_found", id="unknown-grant"),
])
def test_api_refusals(client, app, changed: Tree, who, path, status, problem) -> None:  # type: ignore[no-untyped-def]
    apps = Apps(app, changed)
    url = f"{API}/" + path.format(a=changed.grants["a"], b=changed.grants["b"])
    resp = (client.get if path == "review" else client.post)(url, headers=apps.headers(who))
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["type"].endswith(problem)


def test_api_keep_after_deadline_refused(client, app, changed: Tree) -> None:
    apps = Apps(app, changed)
    with changed.platform.db.session() as db:
        db.execute(update(Grant).where(Grant.id == changed.grants["d"])
                   .values(review_deadline=days(-1)))
    resp = client.post(f"{API}/grants/{changed.grants['d']}/keep", headers=apps.headers("e"))
    assert resp.status_code == 409 and resp.get_json()["type"].endswith("not_under_review")


def test_review_operations_in_openapi(client) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/orgs/{credit_code}/review"]
    assert "post" in paths["/api/v1/orgs/{credit_code}/grants/{grant_id}/keep"]


# -- the cron job ---------------------------------------------------------------------------------

def test_cli_lapses_unkept_grants_past_deadline(changed: Tree, idp_cli) -> None:  # type: ignore[no-untyped-def]
    assert idp_cli("delegation", "lapse-expired").output.startswith("lapsed 0 grant(s)")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    with changed.platform.db.session() as db:
        db.execute(update(Grant).where(Grant.id == changed.grants["a"])
                   .values(review_deadline=past))
    result = idp_cli("delegation", "lapse-expired")
    assert result.exit_code == 0 and result.output.startswith("lapsed 3 grant(s)")
    assert {grant(changed, n).status for n in "abc"} == {"lapsed"}
    assert grant(changed, "d").status == "active"
    assert "delegation:lapse" in actions(changed)
    assert idp_cli("delegation", "lapse-expired").output.startswith("lapsed 0 grant(s)")
