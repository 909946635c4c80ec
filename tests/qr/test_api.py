"""The app's side of QR login: scan, confirm, deny with a bearer token (R-30, RFC 6750)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.accounts.models import Person
from idp.audit.models import AuditRecord
from tests.oidc.helpers import Pkce, register, sign_in, tokens
from tests.qr.helpers import api, app_client, open_qr_page, signed_in_app


@pytest.fixture
def phone(app, platform, citizen):
    return signed_in_app(app, platform, citizen)


def test_scan_tells_the_app_who_is_asking(client, app, platform, phone):
    ticket = open_qr_page(client)
    resp = api(app.test_client(), phone, ticket, "scan")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["ticket"] == ticket and body["state"] == "scanned"
    assert body["client_name"] == "" and body["network"] == "127.0.0.*"
    assert 0 < body["expires_in"] <= platform.settings.qr_ticket_ttl
    assert resp.headers["Cache-Control"] == "no-store"


def test_scan_names_the_waiting_relying_party(client, app, platform, phone):
    rp = register(platform, name="公积金服务")
    from tests.oidc.helpers import auth_params

    login = client.get("/authorize", query_string=auth_params(rp, Pkce()))
    tx = login.location.split("tx=")[1]
    ticket = open_qr_page(client, tx=tx)
    assert api(app.test_client(), phone, ticket, "scan").get_json()["client_name"] == "公积金服务"


@pytest.mark.parametrize(("headers", "status", "problem"), [
    ({}, 401, "unauthenticated"),
    ({"Authorization": "Basic abc"}, 401, "unauthenticated"),
    ({"Authorization": "Bearer "}, 401, "unauthenticated"),
    ({"Authorization": "Bearer not.a.token"}, 401, "invalid_token"),
    ({"Authorization": "Bearer " + "x" * 5000}, 401, "invalid_token"),
])
@pytest.mark.parametrize("action", ["scan", "confirm", "deny"])
def test_operations_without_a_valid_token_are_refused(client, headers, status, problem, action):
    ticket = open_qr_page(client)
    resp = client.post(f"/api/v1/qr/{ticket}/{action}", headers=headers)
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["type"] == f"urn:idp:problem:{problem}"


def test_token_without_openid_scope_is_refused(client, app, platform, citizen):
    rp = app_client(platform)
    phone = app.test_client()
    sign_in(phone, platform, citizen)
    token = tokens(phone, rp, Pkce(), scope="profile")["access_token"]
    resp = client.post(f"/api/v1/qr/{open_qr_page(client)}/scan",
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403
    assert resp.get_json()["type"] == "urn:idp:problem:insufficient_scope"


def test_token_of_another_relying_party_cannot_confirm(client, app, platform, citizen):
    other = register(platform, name="某部门系统")  # holds the person's token, but is no app
    app_client(platform)
    phone = app.test_client()
    sign_in(phone, platform, citizen)
    token = tokens(phone, other, Pkce())["access_token"]
    resp = client.post(f"/api/v1/qr/{open_qr_page(client)}/scan",
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403
    assert resp.get_json()["type"] == "urn:idp:problem:client_not_allowed"


def test_banned_persons_token_is_refused_at_once(client, app, platform, citizen, phone):
    with platform.db.session() as db:
        person = db.get(Person, citizen.person_id)
        person.status = "banned"
        person.security_epoch += 1
    resp = api(client, phone, open_qr_page(client), "scan")
    assert resp.status_code == 401
    assert resp.get_json()["type"] == "urn:idp:problem:invalid_token"


@pytest.mark.parametrize(("ticket", "status", "problem"), [
    ("unknown-ticket", 404, "qr_ticket_expired"),
    ("t" * 65, 404, "qr_ticket_expired"),
    ("%E7%A5%A8", 404, "qr_ticket_expired"),
])
def test_unknown_tickets_answer_problem_details(client, phone, ticket, status, problem):
    resp = api(client, phone, ticket, "scan")
    assert resp.status_code == status
    assert resp.get_json()["type"] == f"urn:idp:problem:{problem}"


def test_second_person_cannot_take_a_scanned_ticket(client, app, platform, phone,
                                                    make_citizen):
    other = make_citizen(id_number="110101198503120017", phone="13800138001", name="张伟")
    intruder = signed_in_app(app, platform, other)
    ticket = open_qr_page(client)
    assert api(client, phone, ticket, "scan").status_code == 200
    for action in ("scan", "confirm", "deny"):
        resp = api(client, intruder, ticket, action)
        assert resp.status_code == 409
        assert resp.get_json()["type"] == "urn:idp:problem:qr_ticket_taken"


def test_confirm_before_scan_and_twice_are_conflicts(client, phone):
    ticket = open_qr_page(client)
    assert api(client, phone, ticket, "confirm").status_code == 409
    api(client, phone, ticket, "scan")
    assert api(client, phone, ticket, "confirm").status_code == 200
    again = api(client, phone, ticket, "deny")
    assert again.status_code == 409
    assert again.get_json()["type"] == "urn:idp:problem:qr_ticket_decided"


def test_every_app_operation_is_audited(client, platform, phone, citizen):
    ticket = open_qr_page(client)
    api(client, phone, ticket, "scan")
    api(client, phone, ticket, "confirm")
    api(client, phone, "gone", "deny")
    with platform.db.session() as db:
        events = db.scalars(select(AuditRecord).where(AuditRecord.action.like("account:qr:%"))
                            .order_by(AuditRecord.seq)).all()
        got = [(e.action, e.outcome) for e in events]
        assert got == [("account:qr:scan", "success"), ("account:qr:confirm", "success"),
                       ("account:qr:deny", "failure")]
        assert all(ticket not in str(e.details) for e in events)  # no ticket ids kept


def test_operations_are_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for action in ("scan", "confirm", "deny"):
        op = paths[f"/api/v1/qr/{{ticket}}/{action}"]["post"]
        assert op["security"] == [{"bearer": []}]
        assert {"401", "403", "404", "409"} <= set(op["responses"])
