"""The console JSON API: staff tokens, audit search/export/chain, reveal (issue 5 items 1, 5)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from idp.audit import service as audit
from idp.audit.models import AuditRecord
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.helpers import STAFF_PASSWORD, api_token, enrol_directly, make_local_staff
from tests.conftest import Citizen


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"staff_max_failures": 3}


@pytest.fixture
def auditor(client: FlaskClient, platform: Platform) -> dict[str, str]:
    token = api_token(client, platform, make_local_staff(platform, "shen", [Role.AUDITOR]))
    return {"Authorization": f"Bearer {token}"}


def _records(platform: Platform, action: str) -> list[AuditRecord]:
    with platform.db.session() as session:
        return list(session.scalars(select(AuditRecord).where(AuditRecord.action == action)))


def test_session_token_needs_password_and_a_fresh_totp_code(
        client: FlaskClient, platform: Platform) -> None:
    make_local_staff(platform, "li", [Role.AUDITOR])
    device = enrol_directly(platform, "li", STAFF_PASSWORD)
    body = {"username": "li", "password": STAFF_PASSWORD, "totp": device.code()}
    resp = client.post("/api/v1/admin/session", json=body)
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    assert resp.json["staff"]["roles"] == ["auditor"]  # type: ignore[index]
    replay = client.post("/api/v1/admin/session", json=body)
    assert replay.status_code == 401
    assert replay.json["type"] == "urn:idp:problem:totp_wrong"  # type: ignore[index]
    token = resp.json["token"]  # type: ignore[index]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/admin/audit", headers=headers).status_code == 200
    assert client.delete("/api/v1/admin/session", headers=headers).status_code == 204
    assert client.get("/api/v1/admin/audit", headers=headers).status_code == 401


def test_api_refuses_staff_who_never_enrolled_totp(client: FlaskClient,
                                                   platform: Platform) -> None:
    make_local_staff(platform, "new", [Role.AUDITOR])
    resp = client.post("/api/v1/admin/session", json={
        "username": "new", "password": STAFF_PASSWORD, "totp": "123456"})
    assert resp.status_code == 403
    assert resp.json["type"] == "urn:idp:problem:totp_enrolment_required"  # type: ignore[index]
    assert _records(platform, "staff:totp:failure")


@pytest.mark.parametrize(("body", "status"), [
    ({"username": "li", "password": "wrong-password!", "totp": "123456"}, 401),
    ({"username": "li", "password": STAFF_PASSWORD, "totp": "000000x"}, 401),
    ({"username": "li", "password": STAFF_PASSWORD}, 422),
    ({"username": 5, "password": STAFF_PASSWORD, "totp": "1"}, 422),
    ({"username": "l" * 65, "password": STAFF_PASSWORD, "totp": "1"}, 422),
    ("not an object", 400),
])
def test_bad_sign_in_bodies(client: FlaskClient, platform: Platform, body: Any,
                            status: int) -> None:
    make_local_staff(platform, "li", [Role.AUDITOR])
    enrol_directly(platform, "li", STAFF_PASSWORD)
    assert client.post("/api/v1/admin/session", json=body).status_code == status


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer nope", "Basic abc",
                                    "Bearer " + "x" * 200])
def test_bad_tokens_are_401(client: FlaskClient, header: str) -> None:
    resp = client.get("/api/v1/admin/audit", headers={"Authorization": header})
    assert resp.status_code == 401


def test_citizen_oidc_tokens_are_not_staff_tokens(client: FlaskClient, auditor: dict) -> None:
    # A staff token is only good here; and a random JWT-looking string is nothing.
    resp = client.get("/api/v1/admin/audit",
                      headers={"Authorization": "Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig"})
    assert resp.status_code == 401


def test_search_filters_by_who_what_whom_where_outcome(
        client: FlaskClient, platform: Platform, auditor: dict, citizen: Citizen) -> None:
    with platform.db.session() as session:
        audit.record(session, actor=f"person:{citizen.person_id}", action="login:password",
                     target=f"person:{citizen.person_id}", outcome="failure",
                     address="203.0.113.9")
        audit.record(session, actor="staff:x", action="login:password",
                     target=f"person:{citizen.person_id}1", outcome="success",
                     address="203.0.113.10")

    def entries(**query: str) -> list[dict[str, Any]]:
        resp = client.get("/api/v1/admin/audit", query_string=query, headers=auditor)
        assert resp.status_code == 200, resp.json
        return resp.json["entries"]  # type: ignore[index,no-any-return]

    assert {e["address"] for e in entries(action="login:")} == {"203.0.113.9",
                                                                 "203.0.113.10"}
    assert [e["outcome"] for e in entries(action="login:", outcome="failure")] == ["failure"]
    assert [e["actor"] for e in entries(address="203.0.113.10")] == ["staff:x"]
    # "Whom" by document number: exactly that person, not person:<id>1.
    by_number = entries(target=citizen.id_number)
    assert [e["target"] for e in by_number] == [f"person:{citizen.person_id}"]
    assert entries(target="110105194912310037") == []  # nobody's number
    assert entries(actor="staff:x", since="2000-01-01", until="2000-01-02") == []
    assert all(e["hash"] and e["time"] for e in entries())


def test_search_pages_newest_first(client: FlaskClient, platform: Platform,
                                   auditor: dict) -> None:
    with platform.db.session() as session:
        for i in range(5):
            audit.record(session, actor="staff:pager", action=f"test:{i}")
    first = client.get("/api/v1/admin/audit", headers=auditor,
                       query_string={"actor": "staff:pager", "limit": "3"}).json
    assert [e["action"] for e in first["entries"]] == ["test:4", "test:3", "test:2"]
    second = client.get("/api/v1/admin/audit", headers=auditor, query_string={
        "actor": "staff:pager", "limit": "3", "before": first["next_before"]}).json
    assert [e["action"] for e in second["entries"]] == ["test:1", "test:0"]
    assert second["next_before"] is None


@pytest.mark.parametrize(("query", "field"), [
    ({"since": "2024-13-01"}, "since"), ({"until": "yesterday"}, "until"),
    ({"since": "2024-05-02", "until": "2024-05-01"}, "until"),
    ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"limit": "-1"}, "limit"),
    ({"before": "abc"}, "before"), ({"outcome": "DROP TABLE"}, "outcome"),
    ({"actor": "a" * 129}, "actor"), ({"target": "x\x00y"}, "target"),
])
def test_bad_filters_are_422(client: FlaskClient, auditor: dict, query: dict[str, str],
                             field: str) -> None:
    resp = client.get("/api/v1/admin/audit", query_string=query, headers=auditor)
    assert resp.status_code == 422
    assert field in {e["field"] for e in resp.json["errors"]}  # type: ignore[index]


def test_csv_export_is_audited_and_safe_for_spreadsheets(
        client: FlaskClient, platform: Platform, auditor: dict) -> None:
    with platform.db.session() as session:
        audit.record(session, actor="=HYPERLINK(\"http://x\")", action="test:csv",
                     details={"note": "中文"})
    resp = client.get("/api/v1/admin/audit/export.csv", headers=auditor,
                      query_string={"action": "test:csv"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    text = resp.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["seq", "time", "actor", "action"]
    assert rows[1][2].startswith("'=") and "中文" in rows[1][7]
    assert len(rows) == 2
    exported = _records(platform, "admin:audit:export")
    assert exported[-1].details["rows"] == 1
    assert exported[-1].details["filter"] == {"action": "test:csv"}


def test_chain_check_reports_a_tampered_record(client: FlaskClient, platform: Platform,
                                                auditor: dict) -> None:
    ok = client.post("/api/v1/admin/audit/verify", headers=auditor).json
    assert ok["ok"] is True and ok["checked"] > 0
    with platform.db.session() as session:
        session.execute(update(AuditRecord).where(AuditRecord.seq == 2)
                        .values(actor="someone-else"))
    broken = client.post("/api/v1/admin/audit/verify", headers=auditor).json
    assert broken == {"ok": False, "checked": 1, "first_broken": 2,
                      "reason": "record altered"}
    assert _records(platform, "admin:audit:verify_chain")[-1].outcome == "failure"


def test_reveal_needs_a_reason_and_is_audited(client: FlaskClient, platform: Platform,
                                              auditor: dict, citizen: Citizen) -> None:
    path = f"/api/v1/admin/persons/{citizen.person_id}/id-number"
    for bad in ({}, {"reason": "短"}, {"reason": "  \t "}, {"reason": "x" * 201}):
        assert client.post(path, json=bad, headers=auditor).status_code == 422
    assert _records(platform, "admin:person:reveal_id_number") == []
    resp = client.post(path, json={"reason": "核查投诉 2024-001"}, headers=auditor)
    assert resp.status_code == 200 and resp.json["id_number"] == citizen.id_number
    assert resp.headers["Cache-Control"] == "no-store"
    (record,) = _records(platform, "admin:person:reveal_id_number")
    assert record.actor == "staff:shen" and record.target == f"person:{citizen.person_id}"
    assert record.details["reason"] == "核查投诉 2024-001"
    assert citizen.id_number not in str(record.details)  # the log keeps it masked
    assert client.post("/api/v1/admin/persons/999999/id-number", json={"reason": "核查投诉"},
                       headers=auditor).status_code == 404


def test_operations_are_in_the_openapi_document(app: Flask) -> None:
    paths = app.test_client().get("/api/openapi.json").json["paths"]
    for path, method in [("/api/v1/admin/session", "post"), ("/api/v1/admin/session", "delete"),
                         ("/api/v1/admin/audit", "get"),
                         ("/api/v1/admin/audit/export.csv", "get"),
                         ("/api/v1/admin/audit/verify", "post"),
                         ("/api/v1/admin/persons/{person_id}/id-number", "post")]:
        assert method in paths[path], (path, method)
