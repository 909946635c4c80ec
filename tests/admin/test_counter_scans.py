"""Opening the stored scans of a legal-person counter registration (R-22, R-53).

Only the staff member who registered the case and auditors may open a scan; it is served with
its stored type from an allow-list, never as a page (nosniff, CSP sandbox, PDF as a
download), and every opening — or refusal — is audited.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from admin_ui.models import CounterDocumentScan
from idp.audit.models import AuditRecord
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.counter_world import CARD, PHONE, Counter, typed_in_case
from tests.admin.helpers import STAFF_PASSWORD, api_token, audit, make_local_staff, page_sign_in
from tests.admin.test_counter_org import (  # noqa: F401 - fixtures
    E01,
    JPEG,
    PDF,
    b64,
    body,
    register,
    settings_overrides,
)

pytestmark = pytest.mark.usefixtures("counter_authorities")

TYPES = {"business_licence": "image/jpeg", "power_of_attorney": "application/pdf"}
DATA = {"business_licence": JPEG, "power_of_attorney": PDF}


@pytest.fixture
def scans(clerk: Counter, make_citizen) -> dict[str, int]:
    """An agent-route registration by clerk1: kind → scan id."""
    make_citizen(id_number=CARD["id_number"], name="刘洋", phone=PHONE)
    resp = register(clerk, clerk.case(), body("agent", scans={
        "business_licence": b64(JPEG), "power_of_attorney": b64(PDF)}))
    assert resp.status_code == 201, resp.json
    found = {x["kind"]: x["id"] for x in resp.json["scans"]}
    assert {x["kind"]: x["content_type"] for x in resp.json["scans"]} == TYPES
    return found


def _staff_client(app: Flask, platform: Platform, name: str, role: Role
                  ) -> tuple[FlaskClient, dict[str, str]]:
    make_local_staff(platform, name, [role])
    client = app.test_client()
    return client, {"Authorization": f"Bearer {api_token(client, platform, name)}"}


def _staff_page(app: Flask, platform: Platform, name: str, role: Role) -> FlaskClient:
    make_local_staff(platform, name, [role])
    page = app.test_client()
    page_sign_in(page, name, STAFF_PASSWORD)
    return page


def _views(platform: Platform, actor: str) -> list[AuditRecord]:
    return [r for r in audit(platform, "admin:counter:scan_view") if r.actor == actor]


@pytest.mark.parametrize(("kind", "disposition"), [
    ("business_licence", 'inline; filename="business_licence-{id}.jpg"'),
    ("power_of_attorney", 'attachment; filename="power_of_attorney-{id}.pdf"'),
])
@pytest.mark.parametrize("who", ["registering_clerk", "auditor"])
def test_the_scan_is_served_as_itself_never_as_a_page(
        app: Flask, platform: Platform, clerk: Counter, scans: dict[str, int],
        kind: str, disposition: str, who: str) -> None:
    if who == "auditor":
        client, headers = _staff_client(app, platform, "auditor1", Role.AUDITOR)
        actor = "staff:auditor1"
    else:
        client, headers, actor = clerk.client, clerk.headers, clerk.actor
    resp = client.get(f"/api/v1/admin/counter/scans/{scans[kind]}", headers=headers)
    assert resp.status_code == 200
    assert resp.data == DATA[kind] and resp.mimetype == TYPES[kind]
    assert resp.headers["Content-Disposition"] == disposition.format(id=scans[kind])
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Security-Policy"] == "sandbox"
    assert resp.headers["Cache-Control"] == "no-store"
    [record] = _views(platform, actor)
    assert record.target == f"org:{E01['credit_code']}" and record.outcome == "success"
    assert record.details["scan"] == scans[kind] and record.details["kind"] == kind
    assert CARD["id_number"] not in str(record.details)


@pytest.mark.parametrize("channel", ["api", "page"])
@pytest.mark.parametrize(("name", "role"), [
    ("clerk2", Role.CLERK),  # a clerk, but not the one who took the scan
    ("admin2", Role.PLATFORM_ADMIN),
])
def test_other_staff_allowed_the_action_are_refused_and_audited(
        app: Flask, platform: Platform, scans: dict[str, int], name: str,
        role: Role, channel: str) -> None:
    path = f"/counter/scans/{scans['business_licence']}"
    if channel == "api":
        client, headers = _staff_client(app, platform, name, role)
        resp = client.get(f"/api/v1/admin{path}", headers=headers)
        assert resp.status_code == 403 and resp.json["type"] == "urn:idp:problem:forbidden"
        assert resp.mimetype == "application/problem+json"
    else:
        resp = _staff_page(app, platform, name, role).get(f"/admin{path}")
        assert resp.status_code == 403
        assert "审计员可以查看扫描件" in resp.get_data(as_text=True)
    assert JPEG not in resp.data
    [denial] = [r for r in audit(platform, "admin:denied") if r.actor == f"staff:{name}"]
    assert denial.details["reason"] == "not_own_case"
    assert denial.target == "counter.view_scan"
    assert _views(platform, f"staff:{name}") == []


@pytest.mark.parametrize("channel", ["api", "page"])
@pytest.mark.parametrize(("stored_type", "status", "problem"), [
    ("text/html", 409, "scan_type_not_served"),
    ("image/svg+xml", 409, "scan_type_not_served"),
    ("application/octet-stream", 409, "scan_type_not_served"),
    (None, 404, "scan_not_found"),  # no such scan
])
def test_what_is_never_served(app: Flask, platform: Platform, scans: dict[str, int],
                              stored_type: str | None, status: int, problem: str,
                              channel: str) -> None:
    scan_id = scans["business_licence"]
    if stored_type is None:
        scan_id += 1000
    else:  # a row altered behind the platform's back
        with platform.db.session() as db:
            db.execute(update(CounterDocumentScan).where(CounterDocumentScan.id == scan_id)
                       .values(content_type=stored_type))
    if channel == "api":
        client, headers = _staff_client(app, platform, "auditor1", Role.AUDITOR)
        resp = client.get(f"/api/v1/admin/counter/scans/{scan_id}", headers=headers)
        assert resp.json["type"] == f"urn:idp:problem:{problem}"
    else:
        page = _staff_page(app, platform, "auditor1", Role.AUDITOR)
        resp = page.get(f"/admin/counter/scans/{scan_id}")
        assert resp.mimetype == "text/html" and "查看扫描件" in resp.get_data(as_text=True)
    assert resp.status_code == status and JPEG not in resp.data
    if stored_type:
        [view] = _views(platform, "staff:auditor1")
        assert view.outcome == "failure" and view.details["reason"] == "type_not_served"


def test_the_case_slip_and_the_audit_view_link_to_the_scans(
        app: Flask, platform: Platform, scans: dict[str, int]) -> None:
    page = _staff_page(app, platform, "auditor1", Role.AUDITOR)
    html = page.get("/admin/audit?action=admin:counter:register_org").get_data(as_text=True)
    for scan_id in scans.values():
        assert f'href="/admin/counter/scans/{scan_id}"' in html
    shown = page.get(f"/admin/counter/scans/{scans['power_of_attorney']}")
    assert shown.status_code == 200 and shown.data == PDF
    assert shown.headers["Content-Disposition"].startswith("attachment;")
    with platform.db.session() as db:
        stored = db.scalars(select(CounterDocumentScan)).all()
        assert all(b64(DATA[s.kind]) not in s.data_enc for s in stored)  # encrypted at rest


def test_the_slip_after_registration_links_the_scans(app: Flask, platform: Platform,
                                                     make_citizen) -> None:
    import io

    from tests.admin.test_counter_org import AGENT

    make_citizen(id_number=CARD["id_number"], name="刘洋", phone=PHONE)
    browser = app.test_client()
    token, case = typed_in_case(browser, platform, "clerk5")
    data: dict[str, Any] = {
        **E01, "route": "agent", **AGENT, "csrf_token": token, "signed": "yes",
        "documents": ["representative_id_card", "business_licence", "agent_id_card",
                      "power_of_attorney"], "version": platform.settings.agreement_version,
        "scan_business_licence": (io.BytesIO(JPEG), "l.jpg"),
        "scan_power_of_attorney": (io.BytesIO(PDF), "p.pdf")}
    done = browser.post(f"{case}/org", data=data, content_type="multipart/form-data")
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    with platform.db.session() as db:
        ids = [s.id for s in db.scalars(select(CounterDocumentScan))]
    assert len(ids) == 2
    for scan_id in ids:
        assert f'href="/admin/counter/scans/{scan_id}"' in html
        assert browser.get(f"/admin/counter/scans/{scan_id}").status_code == 200
