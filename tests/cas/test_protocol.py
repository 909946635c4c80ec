"""CAS Protocol 3.0 with a real client library (python-cas) against a running platform:
ticket single use, expiry, service mismatch, renew, gateway, policy step-up (issue 7)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from idp.cas import services as registry
from tests.cas.conftest import ISSUER, SERVICE, cas_client, register
from tests.oidc.helpers import sign_in
from tests.web.conftest import audit_actions, login


def ticket_from(resp: Any, service: str = SERVICE) -> str:
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert resp.location.startswith(service + "?ticket=ST-"), resp.location
    return parse_qs(urlsplit(resp.location).query)["ticket"][0]


def get_ticket(client: Any, service: str = SERVICE, **params: str) -> str:
    return ticket_from(client.get("/cas/login", query_string={"service": service, **params}),
                       service)


def validate_raw(path: str, **params: str) -> requests.Response:
    return requests.get(f"{ISSUER}/cas/{path}?{urlencode(params)}", timeout=5)


def failure_code(body: str) -> str:
    assert "cas:authenticationFailure" in body, body
    return body.split('code="', 1)[1].split('"', 1)[0]


def test_ticket_validates_once_with_cas3_attributes(live_server, client, platform, citizen):
    register(platform, scope="profile phone")
    sign_in(client, platform, citizen, level=2, amr=["pwd", "sms"])
    ticket = get_ticket(client)
    assert len(ticket) <= 256

    user, attrs, pgtiou = cas_client().verify_ticket(ticket)
    assert user == citizen.sub and pgtiou is None
    assert attrs["acr"] == "urn:idp:acr:realname:2"
    assert attrs["amr"] == ["pwd", "sms"]
    assert attrs["name"] == "张*"  # masked: "realname" not granted
    assert attrs["phone_number"] == "+8613800138000"
    assert attrs["isFromNewLogin"] == "false"
    assert "id_number" not in attrs

    again = cas_client().verify_ticket(ticket)
    assert again[0] is None
    assert ("cas:ticket:validated", "success") in audit_actions(platform)
    assert ("cas:ticket:invalid", "failure") in audit_actions(platform)


def test_cas2_service_validate_returns_user_without_attributes(live_server, client, platform,
                                                               citizen):
    register(platform)
    sign_in(client, platform, citizen)
    user, attrs, _ = cas_client(version=2).verify_ticket(get_ticket(client))
    assert user == citizen.sub and attrs is None


def test_second_validation_of_a_ticket_is_invalid_ticket(live_server, client, platform,
                                                         citizen):
    register(platform)
    sign_in(client, platform, citizen)
    ticket = get_ticket(client)
    assert "authenticationSuccess" in validate_raw("serviceValidate", service=SERVICE,
                                                   ticket=ticket).text
    body = validate_raw("serviceValidate", service=SERVICE, ticket=ticket).text
    assert failure_code(body) == "INVALID_TICKET"


class TestExpiry:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"issuer": ISSUER, "extra": {"cas_ticket_ttl": 1}}

    def test_expired_ticket_is_refused(self, live_server, client, platform, citizen):
        register(platform)
        sign_in(client, platform, citizen)
        fresh, stale = get_ticket(client), get_ticket(client)
        assert cas_client().verify_ticket(fresh)[0] == citizen.sub
        time.sleep(1.3)
        assert cas_client().verify_ticket(stale)[0] is None
        body = validate_raw("p3/serviceValidate", service=SERVICE, ticket=get_ticket(client))
        assert "authenticationSuccess" in body.text  # a new one still works


def test_ticket_for_another_service_is_invalid_service_and_burnt(live_server, client,
                                                                 platform, citizen):
    register(platform)
    other = "https://other.example.gov.cn/"
    register(platform, pattern=other, match="prefix", name="另一系统")
    sign_in(client, platform, citizen)
    ticket = get_ticket(client)
    body = validate_raw("serviceValidate", service=other + "x", ticket=ticket).text
    assert failure_code(body) == "INVALID_SERVICE"
    # The attempt consumed it (§3.1.1): the rightful service cannot use it either.
    assert cas_client().verify_ticket(ticket)[0] is None
    assert cas_client(service_url=other + "x").verify_ticket(ticket)[0] is None


def test_service_url_must_match_exactly_including_query(live_server, client, platform,
                                                        citizen):
    register(platform, pattern="https://dept.example.gov.cn/", match="prefix")
    sign_in(client, platform, citizen)
    service = "https://dept.example.gov.cn/app?x=1"
    resp = client.get("/cas/login", query_string={"service": service})
    assert resp.location.startswith(service + "&ticket=ST-")
    ticket = parse_qs(urlsplit(resp.location).query)["ticket"][0]
    body = validate_raw("serviceValidate", service="https://dept.example.gov.cn/app",
                        ticket=ticket).text
    assert failure_code(body) == "INVALID_SERVICE"


def test_renew_forces_fresh_login_and_validation_checks_it(live_server, client, platform,
                                                           citizen):
    register(platform)
    sign_in(client, platform, citizen)
    sso_ticket = get_ticket(client)
    body = validate_raw("serviceValidate", service=SERVICE, ticket=sso_ticket, renew="true")
    assert failure_code(body.text) == "INVALID_TICKET"  # not from a new login

    renew_client = cas_client(renew=True)
    resp = client.get(renew_client.get_login_url().replace(ISSUER, ""))
    assert resp.status_code == 302 and resp.location.startswith("/login?tx=")
    page = client.get(resp.location)
    assert page.status_code == 200  # SSO bypassed: the form, despite the session
    after = login(client, citizen.id_number, citizen.password, url=resp.location)
    assert after.location.startswith("/cas/login/resume?tx=")
    ticket = ticket_from(client.get(after.location))
    body = validate_raw("p3/serviceValidate", service=SERVICE, ticket=ticket, renew="true")
    assert "authenticationSuccess" in body.text
    assert "<cas:isFromNewLogin>true</cas:isFromNewLogin>" in body.text


def test_login_without_session_goes_to_login_pages_and_back(live_server, client, platform,
                                                            citizen):
    register(platform)
    resp = client.get("/cas/login", query_string={"service": SERVICE})
    assert resp.location.startswith("/login?tx=")
    after = login(client, citizen.id_number, citizen.password, url=resp.location)
    ticket = ticket_from(client.get(after.location))
    assert cas_client().verify_ticket(ticket)[0] == citizen.sub
    # The transaction is spent: resuming again does not mint another ticket.
    assert client.get(after.location).status_code == 400


def test_gateway_without_session_returns_without_ticket(client, platform, citizen):
    register(platform)
    resp = client.get("/cas/login", query_string={"service": SERVICE, "gateway": "true"})
    assert resp.status_code == 302 and resp.location == SERVICE
    sign_in(client, platform, citizen)
    get_ticket(client, gateway="true")


def test_policy_level_and_mfa_step_up(client, platform, citizen, make_citizen):
    register(platform, min_realname_level=2, require_mfa=True)
    sign_in(client, platform, citizen, level=1)
    resp = client.get("/cas/login", query_string={"service": SERVICE})
    assert resp.location.startswith("/login?tx=")
    tx = platform.login_txs.load(parse_qs(urlsplit(resp.location).query)["tx"][0])
    assert tx.min_level == 2 and tx.need_mfa and tx.extra["resume"] == "/cas/login/resume"
    # Returning with a session that still falls short: refused, no ticket.
    denied = client.get(f"/cas/login/resume?tx={tx.id}")
    assert denied.status_code == 403 and "ticket" not in (denied.location or "")
    assert ("cas:login:denied", "failure") in audit_actions(platform)


def test_session_meeting_policy_gets_ticket(client, platform, citizen):
    register(platform, min_realname_level=2, require_mfa=True)
    sign_in(client, platform, citizen, level=3, amr=["pwd", "otp", "mfa"])
    get_ticket(client)


def test_disabled_service_gets_no_ticket_and_outstanding_tickets_fail(live_server, client,
                                                                     platform, citizen):
    service_id = register(platform)
    sign_in(client, platform, citizen)
    ticket = get_ticket(client)
    with platform.db.session() as db:
        registry.disable(db, service_id, actor="test")
    body = validate_raw("serviceValidate", service=SERVICE, ticket=ticket).text
    assert failure_code(body) == "UNAUTHORIZED_SERVICE"
    assert client.get("/cas/login", query_string={"service": SERVICE}).status_code == 403


def test_json_format(live_server, client, platform, citizen):
    register(platform)
    sign_in(client, platform, citizen)
    ok = validate_raw("p3/serviceValidate", service=SERVICE, ticket=get_ticket(client),
                      format="JSON")
    assert ok.headers["Content-Type"].startswith("application/json")
    success = ok.json()["serviceResponse"]["authenticationSuccess"]
    assert success["user"] == citizen.sub and success["attributes"]["name"] == ["张*"]
    bad = validate_raw("serviceValidate", service=SERVICE, ticket="ST-nope", format="JSON")
    assert bad.json()["serviceResponse"]["authenticationFailure"]["code"] == "INVALID_TICKET"


def test_proxy_is_refused(live_server, client, platform, citizen):
    register(platform)
    sign_in(client, platform, citizen)
    body = validate_raw("serviceValidate", service=SERVICE, ticket=get_ticket(client),
                        pgtUrl="https://dept.example.gov.cn/pgt").text
    assert failure_code(body) == "INVALID_PROXY_CALLBACK"
    proxy = validate_raw("proxy", pgt="PGT-1", targetService=SERVICE).text
    assert 'cas:proxyFailure code="UNAUTHORIZED_SERVICE_PROXY"' in proxy
    assert 'code="INVALID_REQUEST"' in validate_raw("proxy", pgt="PGT-1").text
