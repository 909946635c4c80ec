"""Issue 4 item 3 in Chromium: after a change of legal representative, the new one keeps one
inherited grant and cancels another (with the grant below it) on the enterprise page (R-21)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from idp.delegation.models import Grant
from idp.delegation.representative import change_representative
from tests.browser.test_delegation import sign_in
from tests.delegation.helpers import CREDIT_CODE, days, delegation, id_number, open_org, phone
from tests.simulator.server import Running, running


@pytest.fixture
def live(app) -> Iterator[Running]:  # type: ignore[no-untyped-def]
    with running(app) as server:
        yield server


def test_new_representative_keeps_one_grant_and_cancels_another(page: Page, live: Running,
                                                                platform, make_citizen) -> None:
    people = {n: make_citizen(id_number=id_number(20 + i), phone=phone(20 + i), name="赵六")
              for i, n in enumerate(["old", "heir", "kept", "dropped", "below"])}
    pid = {n: c.person_id for n, c in people.items()}
    org_id = open_org(platform, pid["old"])
    with delegation(platform) as d:
        kept = d.grant(pid["old"], org_id, pid["kept"], [("dept-a", "*")], days(30)).id
        dropped = d.grant(pid["old"], org_id, pid["dropped"], [("dept-a", "*")], days(30),
                          may_redelegate=True).id
        below = d.grant(pid["dropped"], org_id, pid["below"], [("dept-a", "licence")],
                        days(20), parent_grant_id=dropped).id
    with delegation(platform) as d:
        change_representative(d, org_id, pid["heir"], actor="test")

    sign_in(page, live, people["heir"].id_number)
    page.goto(f"{live.url}/org/{CREDIT_CODE}")
    expect(page.get_by_role("heading", name="待确认的原有授权")).to_be_visible()
    expect(page.locator(f"#review-{dropped}")).to_contain_text("1")  # one grant below it
    page.locator(f"#review-{kept}").get_by_role("button", name="保留").click()
    expect(page.get_by_text("已保留该授权。")).to_be_visible()
    expect(page.locator(f"#review-{kept}")).to_have_count(0)

    page.locator(f"#review-{dropped}").get_by_role("link", name="取消").click()
    expect(page.get_by_text("其下级的 1 项授权将同时终止。")).to_be_visible()
    page.get_by_role("button", name="确认").click()
    expect(page.get_by_text("授权已撤销,其下级授权同时终止。")).to_be_visible()

    page.goto(f"{live.url}/org/{CREDIT_CODE}")
    expect(page.get_by_role("heading", name="待确认的原有授权")).to_have_count(0)
    with platform.db.session() as s:
        grants = {i: s.get(Grant, i) for i in (kept, dropped, below)}
        assert grants[kept].status == "active" and grants[kept].review_deadline is None
        assert grants[kept].grantor_person_id == pid["heir"]
        assert grants[dropped].status == "cancelled" and grants[below].status == "cancelled"
