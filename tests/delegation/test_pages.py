"""Account-centre pages for delegated authority (R-42; issue 4 item 4): my enterprises, the
tree, grant with confirmation, apply, approve/refuse, change, cancel; CSRF; languages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from idp.delegation.errors import MESSAGES
from idp.delegation.models import Grant
from idp.delegation.tree import scope_of
from tests.delegation.helpers import CREDIT_CODE, Tree, id_number, phone
from tests.delegation.surface import browser_as, departments
from tests.web.conftest import CSRF, with_csrf

ORGS = "/account/orgs"
TREE = f"{ORGS}/{CREDIT_CODE}"
CHINA = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(autouse=True)
def _departments(tree: Tree) -> None:
    departments(tree.platform)


def post(browser, url: str, data: dict | None = None, **kw):  # type: ignore[no-untyped-def]
    with_csrf(browser)
    return browser.post(url, data={"csrf_token": CSRF, **(data or {})}, **kw)


def html(resp) -> str:  # type: ignore[no-untyped-def]
    return resp.get_data(as_text=True)


def grants(tree: Tree) -> dict[int, Grant]:
    with tree.platform.db.session() as db:
        found = {g.id: g for g in db.scalars(select(Grant))}
        for g in found.values():
            _ = g.scopes
        return found


def in_days(n: int) -> str:
    return (dt.datetime.now(CHINA).date() + dt.timedelta(days=n)).isoformat()


def test_pages_need_a_session(client):
    for url in (ORGS, TREE, f"{TREE}/grant", f"{ORGS}/apply"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_my_enterprises_as_representative_and_grantee(app, tree: Tree):
    rep = html(browser_as(app, tree, "rep").get(ORGS))
    assert "福州示例科技有限公司" in rep and "法定代表人" in rep
    b = html(browser_as(app, tree, "b").get(ORGS))
    assert "福州示例科技有限公司" in b and "被授权人" in b
    d = html(browser_as(app, tree, "d").get(ORGS))
    assert "福州示例科技有限公司" not in d and "申请企业授权" in d
    assert "我的企业与授权" in html(browser_as(app, tree, "d").get("/account"))


def test_representative_sees_nested_tree_masked(app, tree: Tree):
    page = html(browser_as(app, tree, "rep").get(TREE))
    assert page.count('class="grant-tree"') == 1
    # a inside the top list, b nested under a, c under b
    a, b, c = (page.index(f'id="g{tree.grants[n]}"') for n in "abc")
    assert a < b < c and page[a:c].count("<ul>") >= 2
    assert "139****0002" in page and phone(2) not in page and id_number(2) not in page
    assert "第 3 级" in page and "全部事项" in page and "市场监管服务" in page


def test_grantee_sees_held_and_given_only(app, tree: Tree):
    page = html(browser_as(app, tree, "b").get(TREE))
    assert "我持有的授权" in page and "我授出的授权" in page and "授权树" not in page
    assert f'id="g{tree.grants["b"]}"' in page and f'id="g{tree.grants["c"]}"' in page
    assert f'id="g{tree.grants["a"]}"' not in page
    outsider = browser_as(app, tree, "d").get(TREE)
    assert outsider.status_code == 404 and MESSAGES["org_not_found"][0] in html(outsider)


def test_grant_shows_masked_grantee_then_grants(app, tree: Tree):
    browser = browser_as(app, tree, "rep")
    form = {"identifier": tree.phone("d"), "item": "dept-b read", "valid_until": in_days(30)}
    check = post(browser, f"{TREE}/grant", {**form, "action": "check"})
    assert check.status_code == 200
    assert "张*" in html(check) and "139****0005" in html(check)
    assert len(grants(tree)) == 3  # nothing made yet
    done = post(browser, f"{TREE}/grant", {**form, "action": "confirm"})
    assert done.status_code == 302 and "done=granted" in done.headers["Location"]
    made = [g for g in grants(tree).values() if g.grantee_person_id == tree.pid("d")]
    assert len(made) == 1 and scope_of(made[0]).pairs() == [("dept-b", "read")]
    end_local = made[0].valid_until.astimezone(CHINA)
    assert end_local.time() == dt.time() and end_local.date().isoformat() == in_days(31)
    held = html(browser_as(app, tree, "d").get(TREE))
    assert "税务服务" in held and "我持有的授权" in held


@pytest.mark.parametrize(("who", "form", "status", "text"), [
    pytest.param("rep", {"identifier": "13900009999"}, 400, "未找到该实名注册用户", id="unknown"),
    pytest.param("rep", {"identifier": ""}, 400, "请填写被授权人", id="no-identifier"),
    pytest.param("rep", {"item": []}, 422, MESSAGES["empty_scope"][0], id="no-items"),
    pytest.param("rep", {"item": "dept-b"}, 422, MESSAGES["invalid_scope"][0], id="bad-item"),
    pytest.param("rep", {"item": "dept-b tax"}, 422, MESSAGES["unknown_service_item"][0],
                 id="item-not-offered"),
    pytest.param("rep", {"valid_until": "2020-01-01"}, 422, MESSAGES["invalid_validity"][0],
                 id="past"),
    pytest.param("rep", {"valid_until": "31/12/2030"}, 400, "日期格式无效", id="date-format"),
    pytest.param("rep", {"identifier": phone(1)}, 422, MESSAGES["self_grant"][0], id="self"),
    pytest.param("rep", {"identifier": phone(2)}, 409, MESSAGES["duplicate"][0],
                 id="duplicate"),
])
def test_grant_refusals_show_the_message(app, tree: Tree, who, form, status, text):
    before = len(grants(tree))
    data = {"identifier": tree.phone("d"), "item": "dept-b read", "valid_until": in_days(5),
            "action": "confirm", **form}
    resp = post(browser_as(app, tree, who), f"{TREE}/grant", data)
    assert resp.status_code == status and text in html(resp)
    assert len(grants(tree)) == before


def test_grant_form_only_for_those_who_may_grant(app, tree: Tree):
    assert browser_as(app, tree, "d").get(f"{TREE}/grant").status_code == 404  # outsider
    assert browser_as(app, tree, "b").get(f"{TREE}/grant").status_code == 403  # not the rep
    c = browser_as(app, tree, "c")  # holds a level-3 grant: no re-delegation
    assert c.get(f"{TREE}/grant", query_string={"parent": tree.grants["c"]}).status_code == 403
    a = html(browser_as(app, tree, "a").get(f"{TREE}/grant",
                                            query_string={"parent": tree.grants["a"]}))
    assert 'value="dept-b read"' in a and 'value="dept-b *"' not in a


def test_fourth_level_refused_on_the_page(app, tree: Tree):
    resp = post(browser_as(app, tree, "c"), f"{TREE}/grant?parent={tree.grants['c']}", {
        "identifier": tree.phone("d"), "item": "dept-a licence", "valid_until": in_days(2),
        "action": "confirm"})
    assert resp.status_code == 403


def test_apply_approve_and_refuse(app, tree: Tree):
    applicant = browser_as(app, tree, "d")
    form = {"credit_code": CREDIT_CODE, "item": "dept-a licence", "valid_until": in_days(7)}
    resp = post(applicant, f"{ORGS}/apply", form)
    assert resp.status_code == 302
    pending = [g for g in grants(tree).values() if g.status == "pending"]
    assert len(pending) == 1
    rep = browser_as(app, tree, "rep")
    assert "同意申请" in html(rep.get(TREE))
    assert post(rep, f"{TREE}/grants/{pending[0].id}/approve").status_code == 302
    assert grants(tree)[pending[0].id].status == "active"
    post(browser_as(app, tree, "e"), f"{ORGS}/apply", {**form, "item": "dept-b read"})
    second = [g for g in grants(tree).values() if g.status == "pending"][0]
    assert post(rep, f"{TREE}/grants/{second.id}/refuse").status_code == 302
    assert grants(tree)[second.id].status == "refused"
    again = post(rep, f"{TREE}/grants/{second.id}/approve")
    assert again.status_code == 409 and MESSAGES["not_pending"][0] in html(again)


@pytest.mark.parametrize(("form", "status", "text"), [
    pytest.param({"credit_code": "91350100M000100Y44"}, 404, MESSAGES["org_not_found"][0],
                 id="unknown-code"),
    pytest.param({"item": []}, 422, MESSAGES["empty_scope"][0], id="no-items"),
    pytest.param({"valid_until": ""}, 400, "请填写授权有效期", id="no-end"),
])
def test_apply_refusals(app, tree: Tree, form, status, text):
    data = {"credit_code": CREDIT_CODE, "item": "dept-a licence", "valid_until": in_days(7),
            **form}
    resp = post(browser_as(app, tree, "d"), f"{ORGS}/apply", data)
    assert resp.status_code == status and text in html(resp)
    assert len(grants(tree)) == 3


def test_change_narrows_and_cascades(app, tree: Tree):
    rep = browser_as(app, tree, "rep")
    url = f"{TREE}/grants/{tree.grants['a']}/change"
    page = html(rep.get(url))
    assert re.search(r'value="dept-a \*" checked', page)
    current_end = re.search(r'name="valid_until" type="date" value="([0-9-]+)"', page)
    assert current_end
    resp = post(rep, url, {"item": ["dept-a *"], "valid_until": current_end.group(1),
                           "may_redelegate": "1"})
    assert resp.status_code == 302
    after = grants(tree)
    assert scope_of(after[tree.grants["a"]]).pairs() == [("dept-a", "*")]
    assert after[tree.grants["b"]].status == "active"  # dept-a kept
    post(rep, url, {"item": ["dept-b read"], "valid_until": current_end.group(1)})
    after = grants(tree)
    assert [after[tree.grants[n]].status for n in "bc"] == ["cancelled", "cancelled"]


def test_change_beyond_grantor_refused(app, tree: Tree):
    a = browser_as(app, tree, "a")
    resp = post(a, f"{TREE}/grants/{tree.grants['b']}/change",
                {"item": ["dept-a *"], "valid_until": in_days(60), "may_redelegate": "1"})
    assert resp.status_code == 403 and MESSAGES["validity_exceeds"][0] in html(resp)


def test_cancel_confirms_then_cascades(app, tree: Tree):
    rep = browser_as(app, tree, "rep")
    url = f"{TREE}/grants/{tree.grants['a']}/cancel"
    confirm = rep.get(url)
    assert confirm.status_code == 200 and "其下级的 2 项授权将同时终止" in html(confirm)
    assert {g.status for g in grants(tree).values()} == {"active"}
    assert post(rep, url).status_code == 302
    assert {g.status for g in grants(tree).values()} == {"cancelled"}


def test_cancel_by_someone_below_is_refused(app, tree: Tree):
    c = browser_as(app, tree, "c")
    resp = post(c, f"{TREE}/grants/{tree.grants['a']}/cancel")
    assert resp.status_code == 403
    assert grants(tree)[tree.grants["a"]].status == "active"
    assert c.get(f"{TREE}/grants/{tree.grants['a']}/cancel").status_code == 404


def test_forms_need_csrf(app, tree: Tree):
    rep = browser_as(app, tree, "rep")
    resp = rep.post(f"{TREE}/grants/{tree.grants['a']}/cancel", data={})
    assert resp.status_code == 400
    assert grants(tree)[tree.grants["a"]].status == "active"


def test_refusal_in_english(app, tree: Tree):
    rep = browser_as(app, tree, "rep")
    resp = post(rep, f"{TREE}/grant?lang=en", {"identifier": phone(1), "item": "dept-b read",
                                                "valid_until": in_days(5), "action": "confirm"})
    assert resp.status_code == 422 and MESSAGES["self_grant"][1] in html(resp)
    assert "Grant authority" in html(rep.get(f"{TREE}/grant?lang=en"))
