"""Legal-person registration at the counter (R-22): representative in person or an agent.

The bundled authority simulator answers the population and business registries; E01
(厦门鹭江数字科技有限公司) has 刘洋 (the card of tests/admin/counter_world.py) as its
representative, and 张伟 (P01) is a seeded person who acts as the agent.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from admin_ui.models import CounterDocumentScan
from idp.accounts.models import Person
from idp.orgs.models import LegalPerson
from idp.platform import Platform
from tests.admin.counter_world import CARD, PHONE, Counter, typed_in_case, web_login
from tests.admin.helpers import audit

pytestmark = pytest.mark.usefixtures("counter_authorities")

E01 = {"credit_code": "91350200MA2XK7L02E", "name": "厦门鹭江数字科技有限公司",
       "kind": "enterprise"}
E02_CODE = "91110101MA01BC238T"  # 北京长安商贸, represented by 张伟, not 刘洋
E05_REVOKED = "92440305L12345674M"
E07_DOWN = "91350102MA8DN0025G"
UNREGISTERED = "91350100M000100Y43"
AGENT = {"agent_name": "张伟", "agent_id_number": "110101198503120017"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
PDF = b"%PDF-1.4\n" + b"0" * 200
HTML_AS_PNG = b"<html><script>alert(1)</script></html>" + b" " * 100
MAX_SCAN = 4096


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, Any]) -> dict[str, Any]:
    """The counter's settings (conftest), with a small scan limit."""
    return {**settings_overrides, "licence_image_max_bytes": MAX_SCAN}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def body(who: str = "representative", **change: Any) -> dict[str, Any]:
    docs = ["representative_id_card", "business_licence"]
    scans = {"business_licence": b64(PNG)}
    extra: dict[str, Any] = {}
    if who == "agent":
        docs += ["agent_id_card", "power_of_attorney"]
        scans["power_of_attorney"] = b64(PDF)
        extra = dict(AGENT)
    return {**E01, "route": who, "documents": docs, "scans": scans,
            "agreement_signed": True, "agreement_version": "2024-01", **extra, **change}


def register(c: Counter, case: str, data: dict[str, Any]) -> Any:
    if data.get("agreement_version") == "2024-01":
        data = {**data, "agreement_version": c.platform.settings.agreement_version}
    return c.post(f"/api/v1/admin/counter/cases/{case}/org-registration", data)


def orgs(platform: Platform) -> int:
    with platform.db.session() as db:
        return int(db.scalar(select(func.count()).select_from(LegalPerson)) or 0)


def test_representative_in_person_opens_both_accounts(clerk: Counter, client,
                                                      platform: Platform) -> None:
    resp = register(clerk, clerk.verified(), body())
    assert resp.status_code == 201, resp.json
    rep = resp.json["representative"]
    assert resp.json["credit_code"] == E01["credit_code"] and resp.json["route"] == "representative"
    assert rep["created"] is True and rep["account_name"] == "3502**********0157"
    assert rep["must_change_password"] is True and rep["realname_level"] == 3
    with platform.db.session() as db:
        org = db.scalars(select(LegalPerson)).one()
        assert org.representative_person_id == rep["person_id"] and org.opened_by == "counter"
        person = db.get(Person, rep["person_id"])
        assert person is not None and person.realname_level == 3 and person.channel == "counter"
        [scan] = db.scalars(select(CounterDocumentScan)).all()
        assert scan.kind == "business_licence" and scan.content_type == "image/png"
        assert b64(PNG) not in scan.data_enc  # encrypted at rest
        assert platform.protector.decrypt(scan.data_enc, "counter.scan") == b64(PNG)
    [record] = audit(platform, "admin:counter:register_org")
    assert record.actor == clerk.actor and record.target == f"org:{E01['credit_code']}"
    assert record.details["documents"] == ["representative_id_card", "business_licence"]
    assert record.details["representative"] == "3502**********0157"
    assert CARD["id_number"] not in str(record.details)
    login = web_login(client, {"identifier": CARD["id_number"], "password": rep["password"]})
    assert login.headers["Location"] == "/password/change"


def test_an_agent_opens_it_for_an_existing_representative(
        clerk: Counter, make_citizen, platform: Platform) -> None:
    citizen = make_citizen(id_number=CARD["id_number"], name="刘洋", phone=PHONE,
                           realname_level=2)
    resp = register(clerk, clerk.case(), body("agent"))
    assert resp.status_code == 201, resp.json
    rep = resp.json["representative"]
    assert rep == {"person_id": citizen.person_id, "account_name": "3502**********0157",
                   "created": False, "realname_level": 2, "password": None,
                   "must_change_password": False}
    with platform.db.session() as db:
        kinds = sorted(s.kind for s in db.scalars(select(CounterDocumentScan)))
        assert kinds == ["business_licence", "power_of_attorney"]
        assert db.scalars(select(LegalPerson)).one().representative_person_id \
            == citizen.person_id
    [record] = audit(platform, "admin:counter:register_org")
    assert record.details["route"] == "agent" and record.details["agent"] == "1101**********0017"
    assert len(record.details["documents"]) == 4
    assert [r.outcome for r in audit(platform, "admin:counter:agent_check")] == ["match"]
    assert audit(platform, "admin:counter:upgrade") == []  # the agent was at the counter


def _set_status(platform: Platform, person_id: int, status: str) -> None:
    with platform.db.session() as db:
        person = db.get(Person, person_id)
        assert person is not None
        person.status = status


# (route, existing account's level or None, its status, SMS verified) →
# (HTTP status, problem type or None, level afterwards, account created)
@pytest.mark.parametrize(("route", "level", "status", "verified", "expect"), [
    # The agent route binds the representative's own account, whatever its level ...
    ("agent", 1, "active", False, (201, None, 1, False)),
    ("agent", 2, "active", True, (201, None, 2, False)),
    ("agent", 3, "active", False, (201, None, 3, False)),
    # ... and never makes one: the person at the counter was the agent.
    ("agent", None, None, True, (409, "representative_no_account", None, False)),
    ("agent", None, None, False, (409, "representative_no_account", None, False)),
    ("agent", 2, "banned", True, (409, "account_banned", 2, False)),
    # The representative in person: created or upgraded to level 3.
    ("representative", None, None, True, (201, None, 3, True)),
    ("representative", None, None, False, (409, "phone_not_verified", None, False)),
    ("representative", 1, "active", False, (201, None, 3, False)),
    ("representative", 2, "active", True, (201, None, 3, False)),
    ("representative", 3, "active", False, (201, None, 3, False)),
    ("representative", 2, "banned", False, (409, "account_banned", 2, False)),
])
def test_who_holds_the_representatives_account_per_route(
        clerk: Counter, make_citizen, platform: Platform, route: str,
        level: int | None, status: str | None, verified: bool,
        expect: tuple[int, str | None, int | None, bool]) -> None:
    code, problem, level_after, created = expect
    person_id = None
    if level is not None:
        person_id = make_citizen(id_number=CARD["id_number"], name="刘洋",
                                 phone="13800009999", realname_level=level).person_id
        if status != "active":
            _set_status(platform, person_id, str(status))
    case = clerk.verified() if verified else clerk.case()
    resp = register(clerk, case, body(route))
    assert resp.status_code == code, resp.json
    if problem:
        assert resp.json["type"] == f"urn:idp:problem:{problem}"
        assert orgs(platform) == 0
    else:
        rep = resp.json["representative"]
        assert rep["created"] is created and rep["realname_level"] == level_after
        assert (rep["password"] is not None) is created
        person_id = rep["person_id"]
    if problem == "representative_no_account":
        assert resp.json["title"] == "法定代表人须先注册个人账号或本人到场办理。"
        # Refused before any registry was asked: nothing to audit as a verification.
        assert audit(platform, "org:verify") == [] \
            and audit(platform, "admin:counter:agent_check") == []
    with platform.db.session() as db:
        people = db.scalars(select(Person)).all()
        assert len([p for p in people if p.id == person_id]) == (person_id is not None)
        if level_after is not None:
            assert db.get(Person, person_id).realname_level == level_after  # type: ignore


@pytest.mark.parametrize(("language", "words"), [
    ("zh-CN", "法定代表人须先注册个人账号或本人到场办理"),
    ("en", "must first register a personal account"),
])
def test_the_page_says_why_an_agent_cannot_open_it(app: Flask, platform: Platform,
                                                   language: str, words: str) -> None:
    import io

    browser = app.test_client()
    token, case_page = typed_in_case(browser, platform, "clerk3")
    resp = browser.post(f"{case_page}/org", content_type="multipart/form-data",
                        headers={"Accept-Language": language}, data={
        **E01, "route": "agent", **AGENT, "csrf_token": token, "documents": list(
            ("representative_id_card", "business_licence", "agent_id_card",
             "power_of_attorney")),
        "signed": "yes", "version": platform.settings.agreement_version,
        "scan_business_licence": (io.BytesIO(JPEG), "licence.jpg"),
        "scan_power_of_attorney": (io.BytesIO(PDF), "poa.pdf")})
    assert resp.status_code == 409
    assert words in resp.get_data(as_text=True) and orgs(platform) == 0


@pytest.mark.parametrize(("change", "route", "errors"), [
    ({"credit_code": "91350200MA2XK7L02F"}, "representative", {"credit_code"}),
    ({"credit_code": ""}, "representative", {"credit_code"}),
    ({"name": ""}, "representative", {"name"}),
    ({"kind": "company"}, "representative", {"kind"}),
    ({"route": "friend"}, "representative", {"route", "agent_name", "agent_id_number",
                                            "documents.agent_id_card",
                                            "documents.power_of_attorney",
                                            "scans.power_of_attorney"}),
    ({"documents": ["representative_id_card"]}, "representative",
     {"documents.business_licence"}),
    ({"documents": ["representative_id_card", "business_licence"]}, "agent",
     {"documents.agent_id_card", "documents.power_of_attorney"}),
    ({"agent_name": "", "agent_id_number": "110101198503120018"}, "agent",
     {"agent_name", "agent_id_number"}),
    ({"scans": {"business_licence": b64(PNG)}}, "agent", {"scans.power_of_attorney"}),
    ({"scans": {}}, "representative", {"scans.business_licence"}),
    ({"scans": {"business_licence": b64(HTML_AS_PNG)}}, "representative",
     {"scans.business_licence"}),
    ({"scans": {"business_licence": b64(PNG + b"\x00" * MAX_SCAN)}}, "representative",
     {"scans.business_licence"}),
    ({"scans": {"business_licence": "not base64!"}}, "representative",
     {"scans.business_licence"}),
    ({"scans": {"business_licence": b64(JPEG), "selfie": b64(JPEG)}}, "representative",
     {"scans.selfie"}),
    ({"agreement_signed": False}, "representative", {"agreement_signed"}),
    ({"agreement_version": "1999-01"}, "representative", {"agreement_version"}),
])
def test_bad_input_is_422_with_every_field(clerk: Counter, platform: Platform,
                                           change: dict[str, Any], route: str,
                                           errors: set[str]) -> None:
    case = clerk.verified()
    resp = register(clerk, case, body(route, **change))
    assert resp.status_code == 422, resp.json
    assert resp.json["type"] == "urn:idp:problem:validation"
    assert {e["field"] for e in resp.json["errors"]} == errors
    assert orgs(platform) == 0 and audit(platform, "org:verify") == []


def test_a_wrong_check_character_is_named(clerk: Counter) -> None:
    resp = register(clerk, clerk.verified(), body(credit_code="91350200MA2XK7L02F"))
    [problem] = resp.json["errors"]
    assert problem["field"] == "credit_code" and problem["code"] not in ("missing", "type")


@pytest.mark.parametrize(("change", "route", "status", "problem"), [
    ({"credit_code": E02_CODE, "name": "北京长安商贸有限公司"}, "representative", 422,
     "not_representative"),
    ({"credit_code": UNREGISTERED}, "representative", 422, "org_not_registered"),
    ({"credit_code": E05_REVOKED, "name": "深圳南山电子商行"}, "representative", 422,
     "org_not_active"),
    ({"name": "厦门鹭江科技有限公司"}, "representative", 422, "name_mismatch"),
    ({"kind": "public_institution"}, "representative", 422, "kind_mismatch"),
    ({"credit_code": E07_DOWN, "name": "福州闽江停摆有限公司"}, "representative", 503,
     "business_registry_unavailable"),
    ({"agent_name": "李四"}, "agent", 422, "agent_no_match"),
    ({"agent_name": "刘洋", "agent_id_number": CARD["id_number"]}, "agent", 422,
     "agent_is_representative"),
])
def test_registry_mismatches_open_nothing(clerk: Counter, platform: Platform,
                                          make_citizen, change: dict[str, Any], route: str,
                                          status: int, problem: str) -> None:
    if route == "agent":  # the agent route needs the representative's own account
        make_citizen(id_number=CARD["id_number"], name="刘洋", phone="13800009999")
    case = clerk.verified()
    resp = register(clerk, case, body(route, **change))
    assert resp.status_code == status, resp.json
    assert resp.json["type"] == f"urn:idp:problem:{problem}"
    assert orgs(platform) == 0
    with platform.db.session() as db:
        assert db.scalar(select(func.count()).select_from(CounterDocumentScan)) == 0
    assert register(clerk, case, body()).status_code == 201  # the case is kept: fix, retry


def test_a_new_representative_needs_a_verified_phone(clerk: Counter,
                                                     platform: Platform) -> None:
    resp = register(clerk, clerk.case(), body())
    assert resp.status_code == 409 and resp.json["type"] == "urn:idp:problem:phone_not_verified"
    assert orgs(platform) == 0


def test_a_code_opened_before_is_409(clerk: Counter, make_citizen,
                                     platform: Platform) -> None:
    make_citizen(id_number=CARD["id_number"], name="刘洋", phone=PHONE)
    assert register(clerk, clerk.case(), body()).status_code == 201
    again = register(clerk, clerk.case(), body())
    assert again.status_code == 409 and again.json["type"] == "urn:idp:problem:org_exists"
    assert orgs(platform) == 1


def test_not_json_and_unknown_case(clerk: Counter) -> None:
    path = f"/api/v1/admin/counter/cases/{clerk.case()}/org-registration"
    assert clerk.client.post(path, data="x", headers=clerk.headers).status_code == 400
    resp = register(clerk, "z" * 24, body())
    assert resp.status_code == 404 and resp.json["type"] == "urn:idp:problem:case_not_found"


def test_the_console_form(app: Flask, platform: Platform, make_citizen) -> None:
    import io

    make_citizen(id_number=CARD["id_number"], name="刘洋", phone=PHONE)
    browser = app.test_client()
    token, case_page = typed_in_case(browser, platform, "clerk2")
    assert 'id="org-open"' in browser.get(case_page).get_data(as_text=True)
    page = f"{case_page}/org"
    assert 'id="org-form"' in browser.get(page).get_data(as_text=True)
    data: dict[str, Any] = {**E01, "route": "agent", **AGENT, "csrf_token": token,
                            "documents": ["representative_id_card", "business_licence"],
                            "signed": "yes", "version": platform.settings.agreement_version,
                            "scan_business_licence": (io.BytesIO(HTML_AS_PNG), "licence.png")}
    bad = browser.post(page, data=data, content_type="multipart/form-data")
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "授权委托书" in html and "扫描件须为 JPG、PNG 或 PDF 文件" in html
    data.update(documents=["representative_id_card", "business_licence", "agent_id_card",
                           "power_of_attorney"],
                scan_business_licence=(io.BytesIO(JPEG), "licence.jpg"),
                scan_power_of_attorney=(io.BytesIO(PDF), "poa.pdf"))
    done = browser.post(page, data=data, content_type="multipart/form-data")
    assert done.status_code == 200, done.get_data(as_text=True)[:500]
    html = done.get_data(as_text=True)
    assert "法人账号已开通" in html and E01["credit_code"] in html
    assert CARD["id_number"] not in html and orgs(platform) == 1
