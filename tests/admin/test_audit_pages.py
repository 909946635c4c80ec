"""Auditor's console pages on the real OpenLDAP: search, export, chain, reveal (issue 5.5)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from idp.audit.models import AuditRecord
from idp.platform import Platform
from tests.admin.helpers import csrf, page_sign_in
from tests.conftest import Citizen
from tests.staff.ldap_seed import PEOPLE


def _last(platform: Platform, action: str) -> AuditRecord | None:
    with platform.db.session() as session:
        return session.scalars(select(AuditRecord).where(AuditRecord.action == action)
                               .order_by(AuditRecord.seq.desc())).first()


def test_auditor_searches_and_exports(client: FlaskClient, platform: Platform) -> None:
    page_sign_in(client, "bob", PEOPLE["bob"].password)
    html = client.get("/admin/audit", query_string={"action": "staff:login"}).get_data(
        as_text=True)
    assert "staff:login:success" in html and "staff:bob" in html
    assert "export.csv?action=staff:login" in html
    searched = _last(platform, "admin:audit:search")
    assert searched is not None and searched.actor == "staff:bob"
    assert searched.details["filter"] == {"action": "staff:login"}
    csv_text = client.get("/admin/audit/export.csv?action=staff:login").get_data(as_text=True)
    assert "staff:login:success" in csv_text and "staff:bob" in csv_text


def test_bad_filter_is_shown_on_the_form(client: FlaskClient) -> None:
    page_sign_in(client, "bob", PEOPLE["bob"].password)
    resp = client.get("/admin/audit", query_string={"since": "2024-99-01"})
    assert resp.status_code == 400 and "日期格式应为" in resp.get_data(as_text=True)


def test_chain_check_is_shown(client: FlaskClient, platform: Platform) -> None:
    page_sign_in(client, "bob", PEOPLE["bob"].password)
    resp = client.post("/admin/audit/verify", data={"csrf_token": csrf(client, "/admin/audit")})
    assert resp.status_code == 200 and "校验通过" in resp.get_data(as_text=True)
    assert _last(platform, "admin:audit:verify_chain") is not None


def test_reveal_page_asks_for_a_reason_then_shows_the_number_once(
        client: FlaskClient, platform: Platform, citizen: Citizen) -> None:
    page_sign_in(client, "bob", PEOPLE["bob"].password)
    path = f"/admin/persons/{citizen.person_id}/reveal"
    form = client.get(path).get_data(as_text=True)
    assert "1101**********0029" in form and citizen.id_number not in form
    token = csrf(client, path)
    refused = client.post(path, data={"reason": "", "csrf_token": token})
    assert refused.status_code == 400 and citizen.id_number not in refused.get_data(as_text=True)
    shown = client.post(path, data={"reason": "投诉核查", "csrf_token": token})
    assert citizen.id_number in shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"
    record = _last(platform, "admin:person:reveal_id_number")
    assert record is not None and record.details["reason"] == "投诉核查"


def test_clerk_is_refused_the_audit_log(client: FlaskClient, platform: Platform) -> None:
    page_sign_in(client, "alice", PEOPLE["alice"].password)
    resp = client.get("/admin/audit")
    assert resp.status_code == 403 and "查询审计日志" in resp.get_data(as_text=True)
    denied = _last(platform, "admin:denied")
    assert denied is not None and denied.actor == "staff:alice"
    assert denied.target == "audit.search" and denied.outcome == "denied"


def test_console_in_english(client: FlaskClient) -> None:
    page_sign_in(client, "bob", PEOPLE["bob"].password)
    html = client.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "Audit log" in html and "Export CSV" in html and "审计日志" not in html
