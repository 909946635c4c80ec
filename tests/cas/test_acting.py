"""Acting for a legal person at CAS services (issue 4 item 5 loose end 2; R-23, R-42, R-54).

CAS has no chooser: an enterprise certificate sign-in acts for its enterprise at services
serving ``legal_acting`` (org and authority as CAS 3.0 attributes, re-checked live at
validation); natural-person-only services refuse it with a clear page; password sign-ins
act as the person, so legal-only services send them to the login pages.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from idp.audit.models import AuditRecord
from idp.delegation.representative import change_representative
from simulator.business import credit_code
from tests.cas.conftest import SERVICE, register
from tests.cas.test_protocol import get_ticket
from tests.delegation.helpers import days, delegation, id_number, open_org, phone
from tests.oidc.helpers import sign_in

ORG = credit_code("91", "350100", "MA000001")
OTHER = credit_code("91", "350100", "MA000002")
NAME = "福州甲科技有限公司"
BOTH = ["natural", "legal_acting"]
X509 = ["x509"]


@pytest.fixture
def people(make_citizen) -> dict[str, Any]:
    return {n: make_citizen(id_number=id_number(70 + i), phone=phone(70 + i), name="王五")
            for i, n in enumerate(["rep", "staff", "heir"])}


def _setup(platform, people, kinds) -> tuple[int, int, int]:
    service_id = register(platform, allowed_account_kinds=kinds)
    org_id = open_org(platform, people["rep"].person_id, ORG, NAME)
    with delegation(platform) as d:
        grant = d.grant(people["rep"].person_id, org_id, people["staff"].person_id,
                        [(f"cas:{service_id}", "licence")], days(30))
    return service_id, org_id, grant.id


def _validate(client, ticket: str, path: str = "p3/serviceValidate") -> dict[str, Any]:
    resp = client.get(f"/cas/{path}", query_string={"service": SERVICE, "ticket": ticket,
                                                    "format": "JSON"})
    return json.loads(resp.get_data(as_text=True))["serviceResponse"]


@pytest.mark.parametrize("kinds", [BOTH, ["legal_acting"]])
def test_certificate_session_gets_org_and_authority_attributes(client, platform, people, kinds):
    _setup(platform, people, kinds)
    sign_in(client, platform, people["rep"], level=2, amr=X509, acting_for=ORG)
    got = _validate(client, get_ticket(client))["authenticationSuccess"]
    attrs = got["attributes"]
    assert got["user"] == people["rep"].sub and attrs["amr"] == X509
    assert {k: attrs[k] for k in attrs if k.startswith(("org_", "authority_"))} == {
        "org_credit_code": [ORG], "org_name": [NAME], "org_type": ["enterprise"],
        "authority_role": ["representative"], "authority_level": ["0"],
        "authority_items": ["*"]}  # no authority_valid_until: a representative has no end


def test_delegate_authority_attributes(client, platform, people):
    _setup(platform, people, BOTH)
    sign_in(client, platform, people["staff"], amr=X509, acting_for=ORG)
    attrs = _validate(client, get_ticket(client))["authenticationSuccess"]["attributes"]
    assert attrs["authority_role"] == ["delegate"] and attrs["authority_items"] == ["licence"]
    assert attrs["authority_valid_until"][0].endswith("Z")


def test_cas2_validation_of_an_acting_ticket_returns_the_user(client, platform, people):
    _setup(platform, people, BOTH)
    sign_in(client, platform, people["rep"], amr=X509, acting_for=ORG)
    got = _validate(client, get_ticket(client), "serviceValidate")["authenticationSuccess"]
    assert got == {"user": people["rep"].sub}


@pytest.mark.parametrize(("kinds", "acting_for", "outcome"), [
    (BOTH, None, "natural"),  # a password sign-in acts as the person
    (["natural"], None, "natural"),
    (["natural"], ORG, "refused"),  # an enterprise sign-in at a service for persons
    (["legal_acting"], None, "login"),  # no certificate: the login pages offer it
    (BOTH, OTHER, "no_authority"),  # the certificate's enterprise has no account here
])
def test_who_the_ticket_acts_for(client, platform, people, kinds, acting_for, outcome):
    _setup(platform, people, kinds)
    sign_in(client, platform, people["rep"], amr=X509 if acting_for else ["pwd"],
            acting_for=acting_for)
    resp = client.get("/cas/login", query_string={"service": SERVICE})
    html = resp.get_data(as_text=True)
    if outcome == "natural":
        attrs = _validate(client, get_ticket(client))["authenticationSuccess"]["attributes"]
        assert not any(k.startswith(("org_", "authority_")) for k in attrs)
    elif outcome == "login":
        assert resp.status_code == 302 and resp.location.startswith("/login?tx=")
    elif outcome == "refused":
        assert resp.status_code == 403 and "您当前使用企业证书登录" in html
    else:
        assert resp.status_code == 403 and "您已无权代表该企业使用此应用" in html
    if outcome in ("refused", "no_authority"):
        with platform.db.session() as s:
            [denied] = s.query(AuditRecord).filter_by(action="cas:login:denied").all()
        assert denied.outcome == "failure"


def test_refusal_in_english(client, platform, people):
    _setup(platform, people, ["natural"])
    sign_in(client, platform, people["rep"], amr=X509, acting_for=ORG)
    resp = client.get("/cas/login", query_string={"service": SERVICE},
                      headers={"Accept-Language": "en"})
    assert resp.status_code == 403 and "enterprise certificate" in resp.get_data(as_text=True)


def test_password_session_at_legal_only_service_refused_after_login(client, platform, people):
    _setup(platform, people, ["legal_acting"])
    sign_in(client, platform, people["rep"])
    tx = parse_qs(urlsplit(client.get("/cas/login", query_string={"service": SERVICE})
                           .location).query)["tx"][0]
    denied = client.get(f"/cas/login/resume?tx={tx}")  # still a password sign-in
    assert denied.status_code == 403 and "请使用企业证书登录" in denied.get_data(as_text=True)


def _new_representative(platform, people, org_id, grant_id):
    with delegation(platform) as d:
        change_representative(d, org_id, people["heir"].person_id, actor="test")


def _cancel(platform, people, org_id, grant_id):
    with delegation(platform) as d:
        d.cancel(people["rep"].person_id, grant_id)


@pytest.mark.parametrize(("who", "ending"), [("rep", _new_representative), ("staff", _cancel)],
                         ids=["new_representative", "grant_cancelled"])
def test_authority_ended_before_validation_is_invalid_ticket(client, platform, people, who,
                                                             ending):
    _, org_id, grant_id = _setup(platform, people, BOTH)
    sign_in(client, platform, people[who], amr=X509, acting_for=ORG)
    ticket = get_ticket(client)
    ending(platform, people, org_id, grant_id)
    failure = _validate(client, ticket)["authenticationFailure"]
    assert failure["code"] == "INVALID_TICKET" and "legal person" in failure["description"]
