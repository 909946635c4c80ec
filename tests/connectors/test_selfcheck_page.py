"""The integration self-check page (issue 7 item 6, R-60): a developer signs in as a TEST
citizen through their registered client and sees what their system would receive."""

from __future__ import annotations

import html as markup
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.accounts.sessions import COOKIE_NAME, public_sid
from idp.audit.models import AuditRecord
from idp.oidc import clients as client_service
from idp.oidc.subject import subject_for
from idp.platform import Platform
from simulator.business import credit_code
from tests.delegation.helpers import days, delegation, id_number, open_org, phone
from tests.oidc.helpers import REDIRECT, register, sign_in

TEST_ID = id_number(71)
OTHER_ID = id_number(72)
ORG = credit_code("91", "350200", "MA000071")
JWT_SHAPE = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"selfcheck_test_accounts": f"{TEST_ID}, 110105194912310029"}


@pytest.fixture
def tester(make_citizen: Any) -> Any:
    return make_citizen(id_number=TEST_ID, phone=phone(71), name="测试甲")


def _csrf(client: FlaskClient) -> str:
    client.get("/integration/selfcheck")
    with client.session_transaction() as sess:
        return str(sess["csrf"])


def _begin(client: FlaskClient, client_id: str, org: str = "") -> Any:
    return client.post("/integration/selfcheck", data={
        "client_id": client_id, "org": org, "csrf_token": _csrf(client)})


def _tx(resp: Any) -> str:
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    assert resp.location.startswith("/login?tx=")
    return resp.location.split("tx=", 1)[1]


def _result(client: FlaskClient, platform: Platform, who: Any, client_id: str,
            org: str = "", **sign_in_args: Any) -> Any:
    tx = _tx(_begin(client, client_id, org))
    sign_in(client, platform, who, **sign_in_args)  # as the login pages would, after `begin`
    return client.get(f"/integration/selfcheck/result?tx={tx}")


def _audit(platform: Platform) -> list[AuditRecord]:
    with platform.db.session() as db:
        return list(db.scalars(select(AuditRecord).where(
            AuditRecord.action == "integration:selfcheck")))


def _claim(html: str, table: str, name: str) -> str:
    section = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    row = section.split(f'data-claim="{name}"', 1)[1].split("</tr>", 1)[0]
    value = re.search(r'<code class="value">(.*?)</code>', row, re.S)
    assert value is not None
    return markup.unescape(value.group(1))


def test_off_unless_test_accounts_are_configured(app: Any, client: FlaskClient) -> None:
    app.extensions["idp"].settings = app.extensions["idp"].settings.__class__(
        **{**app.extensions["idp"].settings.__dict__, "selfcheck_test_accounts": ""})
    assert client.get("/integration/selfcheck").status_code == 404
    assert client.post("/integration/selfcheck", data={"client_id": "x"}).status_code in (400,
                                                                                          404)


def test_start_page_is_bilingual_with_csrf(client: FlaskClient) -> None:
    html = client.get("/integration/selfcheck").get_data(as_text=True)
    assert "接入自检" in html and 'name="csrf_token"' in html
    english = client.get("/integration/selfcheck?lang=en").get_data(as_text=True)
    assert "Integration self-check" in english


def test_form_without_csrf_is_refused(client: FlaskClient, platform: Platform) -> None:
    rp = register(platform)
    resp = client.post("/integration/selfcheck", data={"client_id": rp.client_id})
    assert resp.status_code == 400 and "/login" not in (resp.location or "")


@pytest.mark.parametrize("client_id", ["unknown-client", "", "bad id!", "x" * 80, "disabled"])
def test_unknown_or_disabled_client_is_refused(client: FlaskClient, platform: Platform,
                                               client_id: str) -> None:
    if client_id == "disabled":
        client_id = register(platform).client_id
        with platform.db.session() as db:
            client_service.get(db, client_id).disabled = True  # type: ignore[union-attr]
    resp = _begin(client, client_id)
    assert resp.status_code == 400
    assert "没有这个应用" in resp.get_data(as_text=True)


def test_test_account_sees_the_claims_its_client_would_receive(
        client: FlaskClient, platform: Platform, tester: Any) -> None:
    rp = register(platform, subject_type="pairwise")
    resp = _result(client, platform, tester, rp.client_id, level=2, amr=["pwd", "sms"])
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html[:500]
    pairwise = subject_for(client_service_get(platform, rp.client_id), tester.sub,
                           platform.settings.secret_key)
    assert pairwise != tester.sub
    assert _claim(html, "id-token-claims", "sub") == f'"{pairwise}"'
    assert _claim(html, "userinfo-claims", "sub") == f'"{pairwise}"'
    assert "urn:idp:acr:realname:2" in _claim(html, "id-token-claims", "acr")
    assert "pwd" in _claim(html, "id-token-claims", "amr")
    assert _claim(html, "id-token-claims", "aud") == f'"{rp.client_id}"'
    # The sid the client will get: the session's public digest, never the session cookie.
    sid = _claim(html, "id-token-claims", "sid").strip('"')
    assert sid == public_sid(platform.settings.secret_key, client.get_cookie(COOKIE_NAME).value)
    assert '"alg": "ES256"' in markup.unescape(html)
    # Personal data masked on the page; nothing usable as a token or a code.
    assert "测试甲" not in html and "测*" in html and TEST_ID not in html
    assert not JWT_SHAPE.search(html) and "code=" not in html
    assert "id-token-claims" in html and "registration" in html
    [record] = _audit(platform)
    assert (record.actor, record.target, record.outcome) == (
        f"person:{tester.person_id}", f"client:{rp.client_id}", "success")


def client_service_get(platform: Platform, client_id: str) -> Any:
    with platform.db.session() as db:
        found = client_service.get(db, client_id)
        db.expunge(found)
        return found


def test_non_test_account_is_refused_and_audited(client: FlaskClient, platform: Platform,
                                                 make_citizen: Any) -> None:
    other = make_citizen(id_number=OTHER_ID, phone=phone(72))
    rp = register(platform)
    resp = _result(client, platform, other, rp.client_id)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 403 and "测试账号" in html
    assert "id-token-claims" not in html
    [record] = _audit(platform)
    assert record.outcome == "refused" and record.details == {"reason": "not_a_test_account"}


def test_an_earlier_sign_in_does_not_count(client: FlaskClient, platform: Platform,
                                           tester: Any) -> None:
    rp = register(platform)
    sign_in(client, platform, tester, age=60)
    tx = _tx(_begin(client, rp.client_id))
    resp = client.get(f"/integration/selfcheck/result?tx={tx}")
    assert resp.status_code == 302 and resp.location.startswith("/login?tx=")


@pytest.mark.parametrize("tx", ["", "forged", "x" * 100])
def test_unknown_request_is_refused(client: FlaskClient, tester: Any, tx: str) -> None:
    resp = client.get(f"/integration/selfcheck/result?tx={tx}")
    assert resp.status_code == 400 and "已过期" in resp.get_data(as_text=True)


def test_a_result_is_shown_once(client: FlaskClient, platform: Platform, tester: Any) -> None:
    rp = register(platform)
    tx = _tx(_begin(client, rp.client_id))
    sign_in(client, platform, tester)
    assert client.get(f"/integration/selfcheck/result?tx={tx}").status_code == 200
    assert client.get(f"/integration/selfcheck/result?tx={tx}").status_code == 400


def test_self_check_never_resumes_into_a_code(client: FlaskClient, platform: Platform,
                                              tester: Any) -> None:
    rp = register(platform)
    tx = _tx(_begin(client, rp.client_id))
    sign_in(client, platform, tester)
    resp = client.get(f"/authorize/resume?tx={tx}")
    assert REDIRECT not in (resp.location or "")


@pytest.mark.parametrize(("overrides", "sign_in_args", "denials"), [
    ({"min_realname_level": 2}, {"level": 1}, ["realname_level_insufficient"]),
    ({"require_mfa": True}, {"level": 2}, ["second_factor_required"]),
    ({"allowed_account_kinds": ["legal_acting"]}, {}, ["account_kind_not_allowed"]),
    ({}, {}, []),
])
def test_the_clients_policy_applies(client: FlaskClient, platform: Platform, tester: Any,
                                    overrides: dict[str, Any], sign_in_args: dict[str, Any],
                                    denials: list[str]) -> None:
    rp = register(platform, **overrides)
    html = _result(client, platform, tester, rp.client_id, **sign_in_args).get_data(
        as_text=True)
    for denial in denials:
        assert f"<code>{denial}</code>" in html
    assert ("access_denied" in html) is bool(denials)


def test_consent_the_person_would_be_asked(client: FlaskClient, platform: Platform,
                                           tester: Any) -> None:
    rp = register(platform, skip_consent=False, scope="openid profile phone")
    html = _result(client, platform, tester, rp.client_id).get_data(as_text=True)
    assert "同意" in html and "<code>phone</code>" in html


def test_enterprise_claims_when_acting_for_a_legal_person(
        client: FlaskClient, platform: Platform, tester: Any, make_citizen: Any) -> None:
    rep = make_citizen(id_number=id_number(73), phone=phone(73))
    rp = register(platform, allowed_account_kinds=["natural", "legal_acting"])
    org_id = open_org(platform, rep.person_id, ORG, "厦门自检科技有限公司")
    with delegation(platform) as d:
        d.grant(rep.person_id, org_id, tester.person_id, [(rp.client_id, "tax")], days(30))
    html = _result(client, platform, tester, rp.client_id, org=ORG).get_data(as_text=True)
    org = _claim(html, "enterprise-claims", "org")
    assert ORG in org and "厦门自检科技有限公司" in org
    authority = _claim(html, "enterprise-claims", "authority")
    assert '"role": "delegate"' in authority and '"items": ["tax"]' in authority
    assert ORG in _claim(html, "userinfo-claims", "org")


def test_bad_credit_code_is_refused(client: FlaskClient, platform: Platform) -> None:
    rp = register(platform)
    resp = _begin(client, rp.client_id, org="not-a-code")
    assert resp.status_code == 400 and "统一社会信用代码" in resp.get_data(as_text=True)


def test_through_the_login_pages_under_the_clients_name(client: FlaskClient,
                                                        platform: Platform,
                                                        tester: Any) -> None:
    rp = register(platform, name="不动产登记系统")
    tx = _tx(_begin(client, rp.client_id))
    page = client.get(f"/login?tx={tx}").get_data(as_text=True)
    assert "不动产登记系统" in page  # the login page names the client being checked
    resp = client.post(f"/login?tx={tx}", data={
        "identifier": tester.id_number, "password": tester.password,
        "csrf_token": _csrf(client)})
    assert resp.status_code == 302
    assert resp.location == f"/integration/selfcheck/result?tx={tx}"
    assert client.get(resp.location).status_code == 200


def test_registration_checks_in_english(client: FlaskClient, platform: Platform,
                                        tester: Any) -> None:
    rp = register(platform, redirect_uris=["http://rp.example.gov.cn/callback"])
    client.get("/integration/selfcheck?lang=en")  # the language choice sticks (cookie)
    html = _result(client, platform, tester, rp.client_id).get_data(as_text=True)
    assert "Integration self-check" in html and "ID token claims" in html
    checks = html.split('id="registration"', 1)[1]
    failed = {row.split("<code>", 1)[1].split("</code>", 1)[0]
              for row in checks.split('<tr class="failed">')[1:]}
    assert failed == {"redirect:https", "backchannel:registered"}
    assert "Redirect URI" in checks and "uses HTTPS" in checks


def test_an_enterprise_the_tester_may_not_act_for(client: FlaskClient, platform: Platform,
                                                  tester: Any) -> None:
    rp = register(platform, allowed_account_kinds=["natural", "legal_acting"])
    html = _result(client, platform, tester, rp.client_id, org=ORG).get_data(as_text=True)
    assert 'id="org-not-authorised"' in html
    assert "没有 org 和 authority 声明" in html  # shown as the person acting for themself
