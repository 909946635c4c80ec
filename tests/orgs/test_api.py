"""The legal-person opening JSON API (issue 4 items 2, 3; R-20, R-21, R-23)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import select

from idp.audit.models import AuditRecord
from idp.orgs.licence import LicenceImage
from idp.orgs.models import LegalPerson
from idp.orgs.service import Orgs
from tests.oidc.helpers import Pkce, register, sign_in, tokens
from tests.orgs.conftest import E01, PNG, elicence_token
from tests.selfservice.conftest import own_app

OPS = {("/api/v1/orgs", "get"), ("/api/v1/orgs", "post"),
       ("/api/v1/orgs/verifications/registry", "post"),
       ("/api/v1/orgs/verifications/licence", "post"),
       ("/api/v1/orgs/verifications/elicence", "post"),
       ("/api/v1/orgs/certificate-challenges", "post"),
       ("/api/v1/orgs/verifications/certificate", "post"),
       ("/api/v1/orgs/{credit_code}/representative", "post")}


def bearer(client: Any, platform: Any, person: Any) -> dict[str, str]:
    """The person signed in on the platform's own app (registered once per test)."""
    sign_in(client, platform, person)
    return {"Authorization": f"Bearer {tokens(client, own_app(platform), Pkce())['access_token']}"}


def agreement(client: Any) -> str:
    return str(client.get("/api/v1/agreements/current").get_json()["version"])


def test_operations_in_openapi(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {(p, m) for p, m in OPS if m in paths.get(p, {})} == OPS
    assert paths["/api/v1/orgs"]["post"]["security"] == [{"bearer": []}]


def test_open_by_registry_then_409_offers_change(client, platform, liu) -> None:  # type: ignore[no-untyped-def]
    h = bearer(client, platform, liu)
    got = client.post("/api/v1/orgs/verifications/registry", json={"credit_code": E01["code"]},
                      headers=h)
    assert got.status_code == 201, got.get_json()
    body = got.get_json()
    assert (body["name"], body["kind"], body["next"]) == (E01["name"], "enterprise", "open")
    opened = client.post("/api/v1/orgs", headers=h, json={
        "verification": body["verification"], "agreement_version": agreement(client)})
    assert opened.status_code == 201, opened.get_json()
    assert opened.get_json()["opened_by"] == "representative_online"
    assert [o["credit_code"] for o in client.get("/api/v1/orgs", headers=h)
            .get_json()["orgs"]] == [E01["code"]]
    again = client.post("/api/v1/orgs/verifications/registry",
                        json={"credit_code": E01["code"]}, headers=h).get_json()
    assert again["next"] == "none"
    dup = client.post("/api/v1/orgs", headers=h, json={
        "verification": again["verification"], "agreement_version": agreement(client)})
    assert dup.status_code == 409
    assert dup.get_json()["change_representative"] == "/api/v1/orgs/{credit_code}/representative"
    with platform.db.session() as db:
        actions = [(a, o) for a, o in db.execute(select(AuditRecord.action,
                                                        AuditRecord.outcome))]
        details = [r.details for r in db.scalars(select(AuditRecord))]
    assert ("org:open", "success") in actions and ("org:agreement", "success") in actions
    assert liu.id_number not in repr(details)


def test_remote_comparison_stores_image(client, platform, liu) -> None:  # type: ignore[no-untyped-def]
    h = bearer(client, platform, liu)
    got = client.post("/api/v1/orgs/verifications/licence", headers=h, json={
        "credit_code": E01["code"], "name": E01["name"], "representative": "刘洋",
        "image": base64.b64encode(PNG).decode()})
    assert got.status_code == 201, got.get_json()
    client.post("/api/v1/orgs", headers=h, json={
        "verification": got.get_json()["verification"], "agreement_version": agreement(client)})
    with platform.db.session() as db:
        images = db.scalars(select(LicenceImage)).all()
        assert [(i.content_type, i.data) for i in images] == [("image/png", PNG)]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"name": "别的公司"}, 422, "name_mismatch"),
    ({"representative": "王五"}, 422, "representative_mismatch"),
    ({"image": base64.b64encode(b"<html><script>x</script></html>" * 4).decode()}, 422,
     "image_type"),
    ({"image": "not base64!"}, 422, "validation"),
    ({"credit_code": "91350200MA2XK7L02F"}, 422, "invalid_credit_code"),
])
def test_remote_comparison_refusals(client, platform, liu, body, status, code) -> None:  # type: ignore[no-untyped-def]
    h = bearer(client, platform, liu)
    payload = {"credit_code": E01["code"], "name": E01["name"], "representative": "刘洋",
               "image": base64.b64encode(PNG).decode(), **body}
    got = client.post("/api/v1/orgs/verifications/licence", headers=h, json=payload)
    assert (got.status_code, got.get_json()["type"]) == (status, f"urn:idp:problem:{code}")


def test_elicence_opens(client, platform, liu, issuer_key) -> None:  # type: ignore[no-untyped-def]
    h = bearer(client, platform, liu)
    got = client.post("/api/v1/orgs/verifications/elicence", headers=h,
                      json={"licence": elicence_token(issuer_key)})
    assert got.status_code == 201, got.get_json()
    assert got.get_json()["method"] == "e_licence"


def test_certificate_flow_over_api(client, platform, liu, pki) -> None:  # type: ignore[no-untyped-def]
    h = bearer(client, platform, liu)
    leaf = pki.leaf(E01["code"])
    challenge = client.post("/api/v1/orgs/certificate-challenges", headers=h).get_json()[
        "challenge"]
    got = client.post("/api/v1/orgs/verifications/certificate", headers=h, json={
        "chain": pki.chain(leaf), "challenge": challenge, "signature": leaf.sign(challenge)})
    assert got.status_code == 201, got.get_json()
    replay = client.post("/api/v1/orgs/verifications/certificate", headers=h, json={
        "chain": pki.chain(leaf), "challenge": challenge, "signature": leaf.sign(challenge)})
    assert replay.get_json()["type"] == "urn:idp:problem:challenge_invalid"
    opened = client.post("/api/v1/orgs", headers=h, json={
        "verification": got.get_json()["verification"], "agreement_version": agreement(client)})
    assert opened.get_json()["opened_by"] == "ca_certificate"


def test_change_of_representative_lists_old_grants(client, platform, liu, zhang,  # type: ignore[no-untyped-def]
                                                    make_citizen) -> None:
    """张伟 represented E01 on our side; the registry now names 刘洋, who takes over."""
    from idp.delegation.service import Delegation
    from tests.delegation.helpers import days, id_number, phone

    staff = make_citizen(id_number=id_number(7), phone=phone(7), name="员工")
    with platform.db.session() as db:
        org = Orgs(db).open_account(credit_code=E01["code"], name=E01["name"],
                                    kind="enterprise", representative_person_id=zhang.person_id,
                                    opened_by="counter", actor="test")
        org_id = org.id
        grant = Delegation.from_platform(db, platform).grant(
            zhang.person_id, org_id, staff.person_id, [("dept-a", "*")], days(90))
        grant_id = grant.id
    h = bearer(client, platform, liu)
    ev = client.post("/api/v1/orgs/verifications/registry", headers=h,
                     json={"credit_code": E01["code"]}).get_json()
    assert ev["next"] == "change_representative"
    refused = client.post("/api/v1/orgs", headers=h, json={
        "verification": ev["verification"], "agreement_version": agreement(client)})
    assert refused.status_code == 409
    wrong_code = client.post("/api/v1/orgs/91110101MA01BC238T/representative", headers=h,
                             json={"verification": ev["verification"],
                                   "agreement_version": agreement(client)})
    assert wrong_code.status_code == 404
    changed = client.post(f"/api/v1/orgs/{E01['code']}/representative", headers=h, json={
        "verification": ev["verification"], "agreement_version": agreement(client)})
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["org"]["credit_code"] == E01["code"]
    assert [(g["grant"], g["scope"]) for g in body["review"]] == [
        (grant_id, [{"client_id": "dept-a", "item": "*"}])]
    assert body["review"][0]["review_deadline"] == body["review_deadline"]
    with platform.db.session() as db:
        org = db.get(LegalPerson, org_id)
        assert org.representative_person_id == liu.person_id
        assert [c.method for c in Orgs(db).history(org)] == ["representative_online"]
    again = client.post(f"/api/v1/orgs/{E01['code']}/representative", headers=h, json={
        "verification": ev["verification"], "agreement_version": agreement(client)})
    assert again.status_code == 404  # the verification was used up


def test_other_clients_and_bad_bodies(client, platform, liu) -> None:  # type: ignore[no-untyped-def]
    rp = register(platform)
    sign_in(client, platform, liu)
    dept = {"Authorization": f"Bearer {tokens(client, rp, Pkce())['access_token']}"}
    got = client.post("/api/v1/orgs/verifications/registry", json={"credit_code": E01["code"]},
                      headers=dept)
    assert got.status_code == 403 and got.get_json()["type"].endswith("client_not_allowed")
    assert client.post("/api/v1/orgs/verifications/registry",
                       json={"credit_code": E01["code"]}).status_code == 401
    h = bearer(client, platform, liu)
    for body in ([], {"credit_code": 5}, {"credit_code": "x" * 33}):
        assert client.post("/api/v1/orgs/verifications/registry", json=body,
                           headers=h).status_code in (400, 422)
    bad = client.post("/api/v1/orgs", headers=h, json={"verification": "nope",
                                                        "agreement_version": agreement(client)})
    assert bad.status_code == 404
    old = client.post("/api/v1/orgs", headers=h, json={"verification": "nope",
                                                        "agreement_version": "1999-01"})
    assert old.status_code == 409 and old.get_json()["type"].endswith("agreement_outdated")
