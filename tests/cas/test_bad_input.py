"""Hostile and malformed CAS requests: a clear refusal, never a 500, never a redirect to an
unregistered place, never a ticket (issue 7; CAS Protocol 3.0 §2.1.1, §2.5.3)."""

from __future__ import annotations

import pytest

from idp.cas import services as registry
from tests.cas.conftest import SERVICE, register
from tests.oidc.helpers import sign_in
from tests.web.conftest import audit_actions


@pytest.mark.parametrize("query", [
    "service=javascript:alert(1)",
    "service=https://evil.example.com/",
    "service=https://dept.example.gov.cn/app/cas-callback-other",
    "service=https://dept.example.gov.cn.evil.com/app/cas-callback",
    "service=https://user@dept.example.gov.cn/app/cas-callback",
    "service=" + SERVICE + "&service=" + SERVICE,
    "service=" + SERVICE + "&renew=true&renew=false",
    "service=" + SERVICE + "x" * 5000,
    "service=" + SERVICE + "%23frag",
    "service=%00%0d%0a",
    "service=//dept.example.gov.cn/app/cas-callback",
])
def test_login_refuses_bad_service(client, platform, citizen, query):
    register(platform)
    sign_in(client, platform, citizen)
    resp = client.get("/cas/login?" + query)
    assert resp.status_code in (400, 403), resp.status_code
    assert resp.location is None


def test_login_without_service_goes_to_platform_login(client):
    resp = client.get("/cas/login")
    assert resp.status_code == 302 and resp.location == "/login"


@pytest.mark.parametrize(("query", "code"), [
    ("", "INVALID_REQUEST"),
    ("service=" + SERVICE, "INVALID_REQUEST"),
    ("ticket=ST-abc", "INVALID_REQUEST"),
    ("service=" + SERVICE + "&ticket=ST-a&ticket=ST-b", "INVALID_REQUEST"),
    ("service=" + SERVICE + "&ticket=ST-" + "a" * 3000, "INVALID_REQUEST"),
    ("service=" + SERVICE + "&ticket=ST-abc&format=YAML", "INVALID_REQUEST"),
    ("service=" + SERVICE + "&ticket=PT-abc", "INVALID_TICKET_SPEC"),
    ("service=" + SERVICE + "&ticket=ST-abc", "INVALID_TICKET"),
    ("service=" + SERVICE + "&ticket=%3Cx%3E", "INVALID_TICKET"),
    ("service=" + SERVICE + "&ticket=ST-" + "a" * 300, "INVALID_TICKET"),
    ("service=%FF%FE&ticket=ST-%00", "INVALID_TICKET"),
])
@pytest.mark.parametrize("path", ["serviceValidate", "p3/serviceValidate", "proxyValidate"])
def test_validation_errors_use_spec_codes(client, path, query, code):
    resp = client.get(f"/cas/{path}?{query}")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    if path == "proxyValidate" and code == "INVALID_TICKET_SPEC":
        code = "INVALID_TICKET"  # proxy tickets are accepted there, but none exist
    assert f'<cas:authenticationFailure code="{code}">' in body, body
    assert "<x>" not in body


def test_failures_are_audited_without_the_ticket(client, platform):
    client.get(f"/cas/serviceValidate?service={SERVICE}&ticket=ST-secretvalue")
    assert ("cas:ticket:invalid", "failure") in audit_actions(platform)
    from tests.web.conftest import audit_details

    assert "ST-secretvalue" not in repr(audit_details(platform))


def test_store_failure_is_internal_error_not_500(client, platform, monkeypatch):
    def broken(key):  # type: ignore[no-untyped-def]
        raise ConnectionError("store down")

    monkeypatch.setattr(platform.store, "pop", broken)
    resp = client.get(f"/cas/serviceValidate?service={SERVICE}&ticket=ST-abc")
    assert resp.status_code == 200
    assert 'code="INTERNAL_ERROR"' in resp.get_data(as_text=True)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"pattern": "javascript:alert(1)"}, "absolute http"),
    ({"pattern": "https://a.gov.cn", "match": "prefix"}, "end with '/'"),
    ({"pattern": "https://a.gov.cn/#x"}, "absolute http"),
    ({"match": "regex"}, "match must be"),
    ({"scope": "profile openid"}, "unknown scopes"),
    ({"slo_url": "ftp://a.gov.cn/slo"}, "single logout"),
    ({"min_realname_level": 4}, "real-name level"),
    ({"name": " "}, "name is required"),
    ({"allowed_account_kinds": ["robot"]}, "account kinds"),
])
def test_registration_refuses_bad_specs(overrides, message):
    values = dict(name="系统", pattern=SERVICE)
    values.update(overrides)
    with pytest.raises(registry.ServiceError, match=message):
        registry.validate(registry.ServiceSpec(**values))  # type: ignore[arg-type]
