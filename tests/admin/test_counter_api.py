"""Counter registration, upgrade and password reset through the JSON API (R-11, R-40, R-50).

Runs against the bundled authority simulator (population registry) as a real HTTP server,
with the local staff directory: a clerk's token plays the card-reader agent and the hall's
counter system.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from idp.accounts.models import Person
from idp.platform import Platform
from idp.realname.models import AgreementAcceptance
from idp.staff.directory import Role
from tests.admin.counter_world import CARD, CARDS, PHONE, Counter, persons, web_login
from tests.admin.helpers import audit

pytestmark = pytest.mark.usefixtures("counter_authorities")


def test_register_from_a_card_read_to_an_account_at_level_3(clerk: Counter, client,
                                                             platform: Platform) -> None:
    resp = clerk.read()
    assert resp.status_code == 201
    case = resp.json
    assert case["id_number"] == "3502**********0157" and case["name"] == "刘*"
    assert case["account"] is None and "photo" not in case
    assert audit(platform, "admin:counter:card_read")[-1].outcome == "match"

    case_id = clerk.verified()
    done = clerk.activate(case_id)
    assert done.status_code == 201, done.json
    body = done.json
    assert body["account_name"] == "3502**********0157"
    assert body["realname_level"] == 3 and body["upgraded"] is False
    assert body["must_change_password"] is True and len(body["password"]) == 12
    assert done.headers["Cache-Control"] == "no-store"

    with platform.db.session() as db:
        person = db.get(Person, body["person_id"])
        assert person is not None
        assert (person.channel, person.realname_level, person.must_change_password) == \
            ("counter", 3, True)
        acceptance = db.scalars(select(AgreementAcceptance).where(
            AgreementAcceptance.person_id == person.id)).one()
        assert acceptance.channel == "counter"
    record = audit(platform, "admin:counter:register")[-1]
    assert record.actor == clerk.actor and record.target == f"person:{body['person_id']}"
    flat = repr(record.details)
    assert "350203198806300157" not in flat and PHONE not in flat and body["password"] not in flat
    # The ID number and the handed-over password sign in (the forced change comes next).
    login = web_login(client, {"identifier": CARD["id_number"],
                                        "password": body["password"]})
    assert login.status_code == 302 and login.headers["Location"] == "/password/change"
    # The case is spent: a second activation finds nothing.
    assert clerk.activate(case_id).status_code == 404


def test_an_existing_account_is_upgraded_and_keeps_its_password(
        clerk: Counter, make_citizen, platform: Platform, client) -> None:
    citizen = make_citizen(id_number=CARD["id_number"], name="刘洋", phone=PHONE,
                           password="Liu-Yang-Passw0rd")
    case = clerk.read()
    assert case.json["account"] == {"person_id": citizen.person_id, "realname_level": 1,
                                    "status": "active"}
    done = clerk.activate(clerk.verified())
    assert done.status_code == 201, done.json
    assert done.json["upgraded"] is True and done.json["password"] is None
    assert done.json["realname_level"] == 3
    with platform.db.session() as db:
        person = db.get(Person, citizen.person_id)
        assert person is not None and person.realname_level == 3
        assert not person.must_change_password and person.channel == "web"
    assert audit(platform, "admin:counter:upgrade")[-1].details["from_level"] == 1
    assert persons(platform) == 1
    login = web_login(client, {"identifier": CARD["id_number"],
                                        "password": "Liu-Yang-Passw0rd"})
    assert login.status_code == 302 and login.headers["Location"] != "/password/change"


def test_password_reset_ends_sessions_and_notifies(clerk: Counter, make_citizen, client,
                                                   platform: Platform) -> None:
    citizen = make_citizen(id_number=CARD["id_number"], name="刘洋", phone=PHONE,
                           password="Liu-Yang-Passw0rd")
    assert web_login(client, {"identifier": citizen.id_number,
                                       "password": citizen.password}).status_code == 302
    assert client.get("/account").status_code == 200
    with platform.db.session() as db:
        epoch = db.get(Person, citizen.person_id).security_epoch  # type: ignore[union-attr]

    resp = clerk.post(f"/api/v1/admin/counter/cases/{clerk.case()}/password-reset")
    assert resp.status_code == 200, resp.json
    password = resp.json["password"]
    assert resp.json["must_change_password"] is True and resp.json["person_id"] == citizen.person_id

    assert client.get("/account").status_code == 302  # the old session is gone
    with platform.db.session() as db:
        person = db.get(Person, citizen.person_id)
        assert person is not None and person.must_change_password
        assert person.security_epoch > epoch
    sms = platform.sms.messages(PHONE)  # type: ignore[attr-defined]
    assert sms[0].template == "password_reset"
    assert audit(platform, "admin:counter:password_reset")[-1].actor == clerk.actor
    assert audit(platform, "account:password:reset")[-1].details == {"method": "counter"}
    assert audit(platform, "oidc:logout:person")[-1].details["sessions"] == 1
    assert web_login(client, {"identifier": citizen.id_number,
                                       "password": citizen.password}).status_code == 401
    login = web_login(client, {"identifier": citizen.id_number, "password": password})
    assert login.headers["Location"] == "/password/change"


def test_password_reset_without_an_account_is_refused(clerk: Counter) -> None:
    resp = clerk.post(f"/api/v1/admin/counter/cases/{clerk.case()}/password-reset")
    assert resp.status_code == 409 and resp.json["type"] == "urn:idp:problem:no_account"


def test_a_banned_account_is_neither_upgraded_nor_reset(clerk: Counter, make_citizen,
                                                        platform: Platform) -> None:
    citizen = make_citizen(id_number=CARD["id_number"], name="刘洋", phone=PHONE)
    with platform.db.session() as db:
        db.get(Person, citizen.person_id).status = "banned"  # type: ignore[union-attr]
    case = clerk.verified()
    assert clerk.activate(case).json["type"] == "urn:idp:problem:account_banned"
    resp = clerk.post(f"/api/v1/admin/counter/cases/{case}/password-reset")
    assert resp.status_code == 409 and resp.json["type"] == "urn:idp:problem:account_banned"
    with platform.db.session() as db:
        assert db.get(Person, citizen.person_id).realname_level == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(("change", "problem"), [
    ({"name": "张伟"}, "identity_no_match"),
    ({"name": "吴刚", "id_number": "370202194501010713", "birth_date": "1945-01-01"},
     "identity_deceased"),
    ({"name": "徐丽", "id_number": "50010319860808082X", "birth_date": "1986-08-08",
      "sex": "女"}, "identity_cancelled"),
])
def test_the_registry_must_match(clerk: Counter, platform: Platform, change: dict[str, Any],
                                 problem: str) -> None:
    resp = clerk.read(**change)
    assert resp.status_code == 422 and resp.json["type"] == f"urn:idp:problem:{problem}"
    assert clerk.client.get("/api/v1/admin/counter/cases",
                            headers=clerk.headers).json["cases"] == []


def test_registry_down_is_a_clear_503_and_nothing_is_kept(clerk: Counter, simulator) -> None:
    simulator.sim.modes.set("population_registry", "down")
    resp = clerk.read()
    assert resp.status_code == 503 and resp.json["type"] == "urn:idp:problem:registry_unavailable"
    assert clerk.client.get("/api/v1/admin/counter/cases",
                            headers=clerk.headers).json["cases"] == []


@pytest.mark.parametrize(("body", "field", "code"), [
    ({**CARD, "valid_until": "2020-01-01"}, "valid_until", "expired"),
    ({**CARD, "id_number": "350203198806300158"}, "id_number", "check_character"),
    ({**CARD, "photo": "iVBORw0KGgo="}, "photo", "not_jpeg"),
    ({k: v for k, v in CARD.items() if k != "name"}, "name", "missing"),
])
def test_bad_card_reads_are_422(clerk: Counter, body: dict[str, Any], field: str,
                                code: str) -> None:
    resp = clerk.post(CARDS, body)
    assert resp.status_code == 422
    assert {"field": field, "code": code} in resp.json["errors"]


def test_a_body_that_is_not_an_object_is_400(clerk: Counter) -> None:
    assert clerk.post(CARDS, ["x"]).status_code == 400


def test_nothing_is_made_before_every_step_is_done(clerk: Counter,
                                                   platform: Platform) -> None:
    case = clerk.case()
    assert clerk.activate(case).json["type"] == "urn:idp:problem:phone_not_verified"
    path = f"/api/v1/admin/counter/cases/{case}"
    assert clerk.post(path + "/sms", {"phone": "12345"}).json["type"] == \
        "urn:idp:problem:phone_invalid"
    assert clerk.post(path + "/sms-verification", {"code": "123456"}).json["type"] == \
        "urn:idp:problem:code_expired"
    assert clerk.post(path + "/sms", {"phone": PHONE}).status_code == 200
    good = clerk.code()
    wrong = "000000" if good != "000000" else "111111"
    resp = clerk.post(path + "/sms-verification", {"code": wrong})
    assert resp.status_code == 422 and resp.json["remaining"] >= 1
    assert clerk.post(path + "/sms-verification", {"code": good}).status_code == 200
    assert clerk.activate(case, signed=False).json["type"] == \
        "urn:idp:problem:agreement_not_signed"
    resp = clerk.activate(case, version="1999-01")
    assert resp.json["type"] == "urn:idp:problem:agreement_version"
    assert resp.json["current_version"] == platform.settings.agreement_version
    assert persons(platform) == 0
    assert clerk.activate(case).status_code == 201  # the case survived every refusal
    assert persons(platform) == 1


def test_a_phone_bound_to_someone_else_is_refused(clerk: Counter, make_citizen) -> None:
    make_citizen(phone=PHONE)
    case = clerk.case()
    resp = clerk.post(f"/api/v1/admin/counter/cases/{case}/sms", {"phone": PHONE})
    assert resp.status_code == 409 and resp.json["type"] == "urn:idp:problem:phone_taken"


def test_another_clerks_case_is_not_found(clerk: Counter, app: Flask,
                                          platform: Platform) -> None:
    case = clerk.verified()
    other = Counter(app.test_client(), platform, "clerk2")
    assert other.activate(case).status_code == 404
    assert other.post(f"/api/v1/admin/counter/cases/{case}/password-reset").status_code == 404
    assert other.client.get("/api/v1/admin/counter/cases",
                            headers=other.headers).json["cases"] == []
    assert clerk.activate(case).status_code == 201  # still the first clerk's


@pytest.mark.parametrize("case_id", ["x", "a" * 65, "aaaa.bbbb!cccc%20dddd", "é" * 20])
def test_malformed_case_ids_are_404(clerk: Counter, case_id: str) -> None:
    resp = clerk.post(f"/api/v1/admin/counter/cases/{case_id}/sms", {"phone": PHONE})
    assert resp.status_code == 404


def test_a_platform_admin_may_serve_at_the_counter(app: Flask, platform: Platform) -> None:
    admin = Counter(app.test_client(), platform, "root1", Role.PLATFORM_ADMIN)
    case = admin.verified()
    assert admin.activate(case).status_code == 201
    make_citizen_case = admin.case()
    assert admin.post(f"/api/v1/admin/counter/cases/{make_citizen_case}/password-reset"
                      ).status_code == 200


def test_the_agreement_print_data_is_masked(clerk: Counter) -> None:
    person_id = clerk.activate(clerk.verified()).json["person_id"]
    resp = clerk.client.get(f"/api/v1/admin/counter/persons/{person_id}/agreement",
                            headers=clerk.headers)
    assert resp.status_code == 200
    assert resp.json["account"]["id_number"] == "3502**********0157"
    assert resp.json["account"]["phone"] == "138****8004"
    assert resp.json["accepted"]["channel"] == "counter"
    assert "服务协议" in resp.json["text"]
    assert clerk.client.get("/api/v1/admin/counter/persons/999999/agreement?reason=补打协议",
                            headers=clerk.headers).status_code == 404


def test_operations_are_in_the_openapi_document(client) -> None:
    paths = client.get("/api/openapi.json").json["paths"]
    for path, method in [("/api/v1/admin/counter/card-reads", "post"),
                         ("/api/v1/admin/counter/cases", "get"),
                         ("/api/v1/admin/counter/cases/{case_id}/sms", "post"),
                         ("/api/v1/admin/counter/cases/{case_id}/sms-verification", "post"),
                         ("/api/v1/admin/counter/cases/{case_id}/activation", "post"),
                         ("/api/v1/admin/counter/cases/{case_id}/password-reset", "post"),
                         ("/api/v1/admin/counter/persons/{person_id}/agreement", "get")]:
        assert method in paths[path], path
    schemas = client.get("/api/openapi.json").json["components"]["schemas"]
    assert "photo" in schemas["CardRead"]["properties"]
