"""Issue 5 in Chromium: a legal-person account opened at the counter by an agent (R-22).

The card-reader agent posts the REPRESENTATIVE's ID card (brought by the agent) through the
JSON API; the clerk, at 1366×768, opens the legal-person form from the case, enters the
enterprise, the agent's ID, ticks the four documents checked, attaches the licence and the
power of attorney as files, confirms the signed agreement and submits. The business and
population registries are the bundled simulator. ``IDP_SCREENSHOTS=docs/screenshots`` also
writes the screenshots of docs/console.md (`tests.browser.screenshots`).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from admin_ui.models import CounterDocumentScan
from idp.orgs.models import LegalPerson
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.counter_world import CARD, PHONE
from tests.admin.helpers import STAFF_PASSWORD, make_local_staff
from tests.admin.test_counter_org import AGENT, E01, JPEG, PDF
from tests.browser.conftest import desk, staff_first_sign_in
from tests.browser.screenshots import shot
from tests.browser.test_counter_registration import server  # noqa: F401
from tests.registration.conftest import simulator  # noqa: F401
from tests.simulator.server import CLIENT_ID, KEY, Running


@pytest.fixture
def settings_overrides(simulator: Running) -> dict[str, Any]:  # noqa: F811
    simulator.sim.modes.set("all", "ok")
    return {"authority_url": simulator.url, "authority_client_id": CLIENT_ID,
            "authority_key": KEY, "authority_read_timeout_ms": 2000}


def _photo() -> str:
    """A synthetic chip photo (a silhouette), so the screenshots show what a clerk sees."""
    from PIL import Image, ImageDraw  # reportlab's dependency

    img = Image.new("RGB", (102, 126), (222, 235, 247))
    draw = ImageDraw.Draw(img)
    draw.ellipse((31, 18, 71, 64), fill=(150, 160, 172))
    draw.ellipse((14, 70, 88, 150), fill=(150, 160, 172))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return base64.b64encode(out.getvalue()).decode()


def test_an_agent_opens_a_legal_person_account_at_the_counter(
        chromium: Browser, server: str, platform: Platform,  # noqa: F811
        make_citizen, tmp_path: Path) -> None:
    make_citizen(id_number=CARD["id_number"], name="刘洋", phone=PHONE)  # the representative
    clerk = make_local_staff(platform, "clerk-wang", [Role.CLERK])
    licence, poa = tmp_path / "licence.jpg", tmp_path / "poa.pdf"
    licence.write_bytes(JPEG)
    poa.write_bytes(PDF)
    hall = desk(chromium)
    page = hall.new_page()
    try:
        device = staff_first_sign_in(page, f"{server}/admin/counter", clerk, "窗口业务")

        token = requests.post(f"{server}/api/v1/admin/session", timeout=10, json={
            "username": clerk, "password": STAFF_PASSWORD, "totp": device.code()}
        ).json()["token"]
        read = requests.post(f"{server}/api/v1/admin/counter/card-reads",
                             json={**CARD, "photo": _photo()},
                             timeout=10, headers={"Authorization": f"Bearer {token}"})
        assert read.status_code == 201, read.text

        page.reload()
        page.locator("#counter-cases tbody tr").first.get_by_role("link", name="办理").click()
        expect(page.locator("#phone-change")).to_be_visible()  # the R-41 counter route too
        shot(page, "counter-case")
        page.locator("#org-open").click()
        expect(page.locator("h1")).to_have_text("法人开户")
        expect(page.locator("#rep-number")).to_have_text("3502**********0157")

        page.fill("#credit_code", E01["credit_code"])
        page.fill("#org-name", E01["name"])
        page.select_option("#kind", "enterprise")
        page.check("#route-agent")
        page.fill("#agent_name", AGENT["agent_name"])
        page.fill("#agent_id_number", AGENT["agent_id_number"])
        for doc in ("representative_id_card", "business_licence", "agent_id_card"):
            page.check(f"#doc-{doc}")
        page.set_input_files("#scan-business_licence", str(licence))
        page.check("#org-signed")
        shot(page, "counter-org")
        page.set_viewport_size({"width": 390, "height": 844})  # a tablet at the counter
        expect(page.locator("#org-submit")).to_be_visible()
        page.set_viewport_size({"width": 1366, "height": 768})
        page.locator("#org-submit").click()

        # The power of attorney was neither ticked nor attached: both are named.
        expect(page.locator("#org-errors")).to_contain_text("法定代表人签署的授权委托书")
        expect(page.locator("#credit_code")).to_have_value(E01["credit_code"])
        page.check("#doc-power_of_attorney")
        page.set_input_files("#scan-business_licence", str(licence))
        page.set_input_files("#scan-power_of_attorney", str(poa))
        page.check("#org-signed")
        page.locator("#org-submit").click()

        expect(page.locator("h1")).to_have_text("法人账号已开通")
        expect(page.locator("#org-done-code")).to_have_text(E01["credit_code"])
        expect(page.locator("#org-done-account")).to_have_text("3502**********0157")
        expect(page.locator("body")).not_to_contain_text(CARD["id_number"])
        expect(page.locator("#org-scans a")).to_have_count(2)  # the stored scans, for the clerk
        shot(page, "counter-org-done")
    finally:
        hall.close()

    with platform.db.session() as db:
        org = db.scalars(select(LegalPerson)).one()
        assert org.opened_by == "counter" and org.name == E01["name"]
        kinds = sorted(s.kind for s in db.scalars(select(CounterDocumentScan)))
        assert kinds == ["business_licence", "power_of_attorney"]
