"""Registration through the JSON API against the simulator (R-10, R-63, R-70; issue 3)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from idp.accounts.models import Person
from idp.realname.models import AgreementAcceptance
from tests.registration.conftest import (
    P01,
    P02,
    P03,
    P10_DECEASED,
    P11_CANCELLED,
    PASSWORD,
    api_factor,
    api_start,
    audit_rows,
    persons,
    start_body,
)
from tests.web.conftest import last_code

VERSION = "2024-01"


def finish(client, reg_id: str) -> dict:  # type: ignore[no-untyped-def]
    assert client.post(f"/api/v1/registrations/{reg_id}/password",
                       json={"password": PASSWORD}).status_code == 200
    resp = client.post(f"/api/v1/registrations/{reg_id}/agreement", json={"version": VERSION})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def phone_factor(client, platform, reg_id: str, person: dict) -> None:  # type: ignore[no-untyped-def]
    resp = client.post(f"/api/v1/registrations/{reg_id}/factors/phone",
                       json={"phone": person["phone"]})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["phone_code_sent"] is True
    code = last_code(platform, person["phone"])
    resp = client.post(f"/api/v1/registrations/{reg_id}/factors/phone/confirm",
                       json={"code": code})
    assert resp.status_code == 200, resp.get_json()
    assert "phone" in resp.get_json()["verified"]


def test_three_factors_give_level_1_and_bind_the_phone(client, platform) -> None:
    reg_id = api_start(client, P01)
    phone_factor(client, platform, reg_id, P01)
    resp = api_factor(client, reg_id, "social_security", P01)
    assert resp.get_json()["next"][0] == "password"
    done = finish(client, reg_id)
    assert done["realname_level"] == 1 and done["acr"] == "urn:idp:acr:realname:1"
    with platform.db.session() as db:
        person = db.scalars(select(Person)).one()
        assert person.sub == done["sub"] and person.channel == "app"
        assert person.phone_index is not None
        acceptance = db.scalars(select(AgreementAcceptance)).one()
        assert (acceptance.version, acceptance.channel, acceptance.person_id) == (
            VERSION, "app", person.id)
        assert len(acceptance.text_sha256) == 64
    # The new person signs in with the document number and the password.
    from tests.web.conftest import login

    assert login(client, P01["id_number"], PASSWORD).status_code == 302


def test_bank_card_is_strong_and_gives_level_2(client) -> None:
    reg_id = api_start(client, P02)
    assert api_factor(client, reg_id, "bank_card", P02).status_code == 200
    assert api_factor(client, reg_id, "driving_licence", P02).get_json()["realname_level"] == 2
    assert finish(client, reg_id)["realname_level"] == 2


@pytest.mark.parametrize(("body", "status", "code"), [
    ({}, 422, "validation"),
    ({"name": "张伟", "id_type": "resident_id", "id_number": 110101198503120017,
      "channel": "app"}, 422, "validation"),
    (start_body(P01, channel="counter"), 422, "channel_invalid"),
    (start_body(P01) | {"name": "   "}, 422, "name_missing"),
    (start_body(P01) | {"name": "张\x00伟"}, 422, "name_invalid"),
    (start_body(P01) | {"id_type": "passport"}, 422, "document_type_offline"),
    (start_body(P01) | {"id_type": "nonsense"}, 422, "document_type_offline"),
    (start_body(P01) | {"id_number": "110101198503120018"}, 422, "id_number_invalid"),
    (start_body(P01) | {"id_number": "11010119850312001"}, 422, "id_number_invalid"),
    (start_body(P01) | {"id_number": "110101208503120017"}, 422, "id_number_invalid"),
    (start_body(P01) | {"name": "李四"}, 422, "identity_no_match"),
    (start_body(P10_DECEASED | {"channel": "app"}), 403, "identity_deceased"),
    (start_body(P11_CANCELLED | {"channel": "app"}), 403, "identity_cancelled"),
])
def test_start_refuses_bad_input(client, platform, body, status, code) -> None:
    resp = client.post("/api/v1/registrations", json=body)
    assert resp.status_code == status, resp.get_json()
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["type"] == f"urn:idp:problem:{code}"
    assert persons(platform) == 0


def test_wrong_number_says_which_part_is_wrong(client) -> None:
    resp = client.post("/api/v1/registrations",
                       json=start_body(P01) | {"id_number": "110101198502300017"})
    assert "出生日期" in resp.get_json()["title"]
    assert "birth" in resp.get_json()["detail"].lower()


def test_full_width_and_lower_case_numbers_are_accepted(client) -> None:
    resp = client.post("/api/v1/registrations", json=start_body(P02) | {
        "id_number": "３１０１０１１９９００５２１００２x"})
    assert resp.status_code == 201, resp.get_json()


FACTOR_BAD = [
    ("social_security", {}, "field_missing"),
    ("social_security", {"card_number": "A1"}, "field_format"),
    ("social_security", {"card_number": ["A10000001"]}, "field_format"),
    ("provident_fund", {"account_number": "31000000001X"}, "field_format"),
    ("driving_licence", {"file_number": "12"}, "field_format"),
    ("bank_card", {"card_number": "6217000000000000013", "phone": "13800138001"},
     "field_check_digit"),
    ("bank_card", {"card_number": "6217000000000000012", "phone": "23800138001"},
     "field_format"),
    ("phone", {"phone": "1380013800"}, "field_format"),
    ("face", {"image": "x"}, "factor_unknown"),
]


@pytest.mark.parametrize(("factor", "body", "code"), FACTOR_BAD)
def test_factor_refuses_bad_input_without_asking_an_authority(client, platform, factor, body,
                                                              code) -> None:
    reg_id = api_start(client, P01)
    checks = len(audit_rows(platform, "realname:verify"))
    resp = client.post(f"/api/v1/registrations/{reg_id}/factors/{factor}", json=body)
    assert resp.get_json()["type"] == f"urn:idp:problem:{code}", resp.get_json()
    assert resp.status_code in (404, 422)
    assert len(audit_rows(platform, "realname:verify")) == checks


def test_factor_of_someone_else_does_not_match(client, platform) -> None:
    reg_id = api_start(client, P01)
    resp = api_factor(client, reg_id, "social_security", P02)
    assert resp.status_code == 422
    assert resp.get_json()["type"] == "urn:idp:problem:factor_no_match"
    assert resp.get_json()["authority"] == "social_security"
    state = api_factor(client, reg_id, "social_security", P01).get_json()
    assert state["verified"] == ["social_security"]


@pytest.mark.parametrize(("factor", "authority", "mode"), [
    ("bank_card", "bank", "down"),
    ("bank_card", "bank", "slow"),
    ("social_security", "social_security", "down"),
    ("provident_fund", "provident_fund", "slow"),
    ("driving_licence", "driving_licence", "down"),
])
def test_authority_failure_names_the_check_and_keeps_the_registration(
        client, platform, simulator, factor, authority, mode) -> None:
    reg_id = api_start(client, P03)
    assert api_factor(client, reg_id, "social_security" if factor != "social_security"
                      else "provident_fund", P03).status_code == 200
    simulator.sim.modes.set(authority, mode)
    resp = api_factor(client, reg_id, factor, P03)
    assert resp.status_code == 503
    problem = resp.get_json()
    assert problem["authority"] == authority
    assert problem["type"] == "urn:idp:problem:authority_unavailable"
    assert "暂时无法完成" in problem["title"]
    assert persons(platform) == 0
    # Choose another factor instead: the registration is still there.
    other = "driving_licence" if factor != "driving_licence" else "provident_fund"
    state = api_factor(client, reg_id, other, P03).get_json()
    assert len(state["verified"]) == 2
    # Or retry once the authority is back.
    simulator.sim.modes.set(authority, "ok")
    assert api_factor(client, reg_id, factor, P03).status_code == 200
    assert persons(platform) == 0
    assert finish(client, reg_id)["sub"]
    assert persons(platform) == 1


def test_population_registry_down_stores_nothing(client, platform, simulator) -> None:
    simulator.sim.modes.set("population_registry", "down")
    resp = client.post("/api/v1/registrations", json=start_body(P01))
    assert resp.status_code == 503
    assert resp.get_json()["authority"] == "population_registry"
    assert persons(platform) == 0
    assert [r.outcome for r in audit_rows(platform, "realname:verify")] == ["unavailable"]


def test_registered_number_is_refused_before_any_check_without_saying_whose(
        client, platform, make_citizen) -> None:
    make_citizen(id_number=P01["id_number"], name=P01["name"], phone=P01["phone"])
    resp = client.post("/api/v1/registrations", json=start_body(P01))
    assert resp.status_code == 409
    problem = resp.get_json()
    assert problem["type"] == "urn:idp:problem:already_registered"
    assert problem["recovery"] == "/password/forgot"
    text = json.dumps(problem, ensure_ascii=False)
    assert "138" not in text and "张" not in text and "0017" not in text
    assert audit_rows(platform, "realname:verify") == []


def test_number_registered_meanwhile_is_refused_at_the_end(client, platform, make_citizen):  # type: ignore[no-untyped-def]
    reg_id = api_start(client, P02)
    api_factor(client, reg_id, "social_security", P02)
    api_factor(client, reg_id, "provident_fund", P02)
    client.post(f"/api/v1/registrations/{reg_id}/password", json={"password": PASSWORD})
    make_citizen(id_number=P02["id_number"], name=P02["name"], phone="13900000000")
    resp = client.post(f"/api/v1/registrations/{reg_id}/agreement", json={"version": VERSION})
    assert resp.status_code == 409
    assert persons(platform) == 1


@pytest.mark.parametrize(("step", "body", "status", "code"), [
    ("password", {"password": PASSWORD}, 409, "factors_missing"),
    ("agreement", {"version": VERSION}, 409, "factors_missing"),
])
def test_steps_out_of_order_are_refused(client, platform, step, body, status, code) -> None:
    reg_id = api_start(client, P01)
    resp = client.post(f"/api/v1/registrations/{reg_id}/{step}", json=body)
    assert (resp.status_code, resp.get_json()["type"]) == (status, f"urn:idp:problem:{code}")
    assert persons(platform) == 0


@pytest.mark.parametrize(("password", "code"), [
    ("short1A", "password_too_short"), ("alllowercase1", "password_too_simple"),
    ("", "password_missing"),
])
def test_weak_password_is_refused(client, password, code) -> None:
    reg_id = api_start(client, P01)
    api_factor(client, reg_id, "social_security", P01)
    api_factor(client, reg_id, "provident_fund", P01)
    resp = client.post(f"/api/v1/registrations/{reg_id}/password", json={"password": password})
    assert resp.get_json()["type"] == f"urn:idp:problem:{code}"


def test_agreement_must_be_the_current_version(client, platform) -> None:
    reg_id = api_start(client, P01)
    api_factor(client, reg_id, "social_security", P01)
    api_factor(client, reg_id, "provident_fund", P01)
    client.post(f"/api/v1/registrations/{reg_id}/password", json={"password": PASSWORD})
    resp = client.post(f"/api/v1/registrations/{reg_id}/agreement", json={"version": "1999"})
    assert resp.get_json()["type"] == "urn:idp:problem:agreement_version"
    assert persons(platform) == 0
    current = client.get("/api/v1/agreements/current").get_json()
    assert current["version"] == VERSION and "服务协议" in current["text"]
    assert client.post(f"/api/v1/registrations/{reg_id}/agreement",
                       json={"version": current["version"]}).status_code == 201
    # Finished: the registration is gone.
    again = client.post(f"/api/v1/registrations/{reg_id}/agreement", json={"version": VERSION})
    assert again.status_code == 404


def test_unknown_registration_is_404(client) -> None:
    resp = client.post("/api/v1/registrations/" + "x" * 32 + "/factors/social_security",
                       json={"card_number": "A10000001"})
    assert resp.status_code == 404


def test_wrong_phone_code_counts_down(client, platform) -> None:
    reg_id = api_start(client, P01)
    client.post(f"/api/v1/registrations/{reg_id}/factors/phone", json={"phone": P01["phone"]})
    code = last_code(platform, P01["phone"])
    wrong = "000000" if code != "000000" else "111111"
    resp = client.post(f"/api/v1/registrations/{reg_id}/factors/phone/confirm",
                       json={"code": wrong})
    assert resp.get_json()["type"] == "urn:idp:problem:code_wrong"
    assert resp.get_json()["remaining"] == 4


def test_carrier_refuses_a_phone_registered_to_someone_else(client, platform) -> None:
    reg_id = api_start(client, P02)
    resp = client.post(f"/api/v1/registrations/{reg_id}/factors/phone",
                       json={"phone": P01["phone"]})
    assert resp.get_json()["authority"] == "carrier"
    assert platform.sms.messages(P01["phone"]) == []


def test_audit_holds_only_masked_numbers(client, platform) -> None:
    reg_id = api_start(client, P01)
    phone_factor(client, platform, reg_id, P01)
    api_factor(client, reg_id, "bank_card", P01)
    finish(client, reg_id)
    rows = audit_rows(platform)
    actions = [r.action for r in rows]
    assert actions.count("realname:verify") == 3 and "account:register" in actions
    assert "sms:send" in actions
    dump = json.dumps([[r.actor, r.target, r.details] for r in rows], ensure_ascii=False)
    for secret in (P01["id_number"], P01["phone"], P01["bank"], P01["name"]):
        assert secret not in dump
    assert "1101**********0017" in dump and "138****8001" in dump
    checks = [r for r in rows if r.action == "realname:verify"]
    assert {r.target for r in checks} == {"population_registry", "carrier", "bank"}
    assert all(r.details["reference"].startswith("SIM-") for r in checks)


def test_checks_per_document_number_are_limited(app, client, platform) -> None:
    limit = platform.settings.registration_checks_per_document_daily
    reg_id = api_start(client, P01)  # 1 check
    for _ in range(limit - 1):
        assert api_factor(client, reg_id, "social_security", P02).status_code == 422
    resp = api_factor(client, reg_id, "social_security", P01)
    assert resp.status_code == 429
    assert resp.get_json()["type"] == "urn:idp:problem:rate_limited"
    assert int(resp.headers["Retry-After"]) > 0
    # Another address does not reset the per-number budget.
    other = app.test_client()
    resp = other.post("/api/v1/registrations", json=start_body(P01),
                      environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert resp.status_code == 429


def test_starts_per_address_are_limited(client, platform) -> None:
    """Refused starts count too: nobody probes registered numbers for free."""
    limit = platform.settings.registration_checks_per_address_hourly
    body = start_body(P01) | {"id_type": "passport"}
    for _ in range(limit):
        assert client.post("/api/v1/registrations", json=body).status_code == 422
    resp = client.post("/api/v1/registrations", json=start_body(P01))
    assert resp.status_code == 429
    assert audit_rows(platform, "realname:verify") == []


def test_operations_are_in_the_openapi_document(client) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path, method in [("/api/v1/registrations", "post"),
                         ("/api/v1/registrations/{id}/factors/{factor}", "post"),
                         ("/api/v1/registrations/{id}/factors/phone/confirm", "post"),
                         ("/api/v1/registrations/{id}/password", "post"),
                         ("/api/v1/agreements/current", "get"),
                         ("/api/v1/registrations/{id}/agreement", "post")]:
        assert method in paths[path], path
        assert "security" not in paths[path][method]
