"""The demo department systems on the Python connector, without a platform (issue 7 item 2).

Back-channel logout (OIDC Back-Channel Logout 1.0 §2.6), sign-out CSRF, step-up and the
enterprise pages (R-54). Logout tokens and claims are made here, signed with a key the
connector believes is the platform's; the token checks themselves are tested in
tests/connectors.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from idp_connector.handlers import LSID
from idp_connector.tokens import BACKCHANNEL_EVENT
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from demo.rp import create_rp
from demo.rp.config import SYSTEMS, RpConfig

ISSUER = "http://op.test"
CLIENT_ID = "rp-client"
OP_KEY = ECKey.generate_key("P-256", private=True, parameters={"kid": "op-1"})
OTHER_KEY = ECKey.generate_key("P-256", private=True, parameters={"kid": "op-1"})
ORG = {"credit_code": "91350200MA2XXXXX1K", "name": "厦门示例科技有限公司", "type": "company"}


def logout_token(key: ECKey = OP_KEY, **changes: Any) -> str:
    claims: dict[str, Any] = {"iss": ISSUER, "aud": CLIENT_ID, "iat": int(time.time()),
                              "exp": int(time.time()) + 120, "jti": uuid.uuid4().hex,
                              "sub": "person-1", "sid": "sid-1",
                              "events": {BACKCHANNEL_EVENT: {}}}
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)


@pytest.fixture
def rp(tmp_path: Path) -> FlaskClient:
    config = RpConfig(system=SYSTEMS["social_security"], base_url="http://127.0.0.1:5101",
                      issuer=ISSUER, client_id=CLIENT_ID, client_secret="s", data_dir=tmp_path,
                      secret_key="test-secret")
    app = create_rp(config)
    # Pre-loaded metadata and keys: the connector then fetches nothing.
    client = app.extensions["idp_connector"].client
    client._metadata = {"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/authorize",
                        "end_session_endpoint": f"{ISSUER}/logout"}
    client._jwks = KeySet([OP_KEY]).as_dict(private=False)
    return app.test_client()


def sign_in(rp: FlaskClient, sid: str, sub: str = "person-1", **claims: Any) -> None:
    store = rp.application.extensions["idp_connector"].store
    data = {"claims": {"sub": sub, "sid": sid, "name": "张三",
                       "acr": "urn:idp:acr:realname:2", "amr": ["pwd"], **claims},
            "access_token": "at", "id_token": "it", "expires_at": None}
    local_id = store.create(sid=sid, sub=sub, data=data)
    with rp.session_transaction() as s:
        s[LSID] = local_id


def test_the_registered_uris_are_the_connectors() -> None:
    config = RpConfig(system=SYSTEMS["housing_fund"], base_url="http://127.0.0.1:5102",
                      issuer=ISSUER, client_id=CLIENT_ID, client_secret="s",
                      data_dir=Path("."), secret_key="k")
    assert config.connector.redirect_uri == "http://127.0.0.1:5102/oidc/callback"
    assert config.connector.backchannel_logout_uri == (
        "http://127.0.0.1:5102/oidc/backchannel-logout")


def test_backchannel_logout_ends_only_the_named_session(rp: FlaskClient) -> None:
    other = rp.application.test_client()
    sign_in(rp, "sid-1")
    sign_in(other, "sid-2")
    resp = rp.post("/oidc/backchannel-logout", data={"logout_token": logout_token()})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert rp.get("/session.json").json == {"signed_in": False}
    assert other.get("/session.json").json["signed_in"] is True


def test_backchannel_logout_by_sub_ends_every_session(rp: FlaskClient) -> None:
    other = rp.application.test_client()
    sign_in(rp, "sid-1")
    sign_in(other, "sid-2")
    resp = rp.post("/oidc/backchannel-logout", data={"logout_token": logout_token(sid=None)})
    assert resp.status_code == 200
    assert other.get("/session.json").json == {"signed_in": False}


@pytest.mark.parametrize("form", [
    {}, {"logout_token": ""}, {"logout_token": logout_token(nonce="x")},
    {"logout_token": logout_token(key=OTHER_KEY)},
])
def test_backchannel_logout_refuses_bad_tokens_with_400(rp: FlaskClient,
                                                         form: dict[str, str]) -> None:
    sign_in(rp, "sid-1")
    resp = rp.post("/oidc/backchannel-logout", data=form)
    assert resp.status_code == 400 and resp.json["error"] == "invalid_request"
    assert rp.get("/session.json").json["signed_in"] is True


def test_replayed_logout_token_is_refused(rp: FlaskClient) -> None:
    token = logout_token()
    assert rp.post("/oidc/backchannel-logout", data={"logout_token": token}).status_code == 200
    assert rp.post("/oidc/backchannel-logout", data={"logout_token": token}).status_code == 400


def test_sign_out_needs_the_csrf_token(rp: FlaskClient) -> None:
    sign_in(rp, "sid-1")
    assert rp.post("/oidc/logout", data={"csrf_token": "forged"}).status_code == 400
    assert rp.get("/session.json").json["signed_in"] is True


def test_sign_out_ends_the_session_and_goes_to_the_platform(rp: FlaskClient) -> None:
    sign_in(rp, "sid-1")
    page = rp.get("/").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    resp = rp.post("/oidc/logout", data={"csrf_token": csrf})
    assert resp.status_code == 302 and resp.location.startswith(f"{ISSUER}/logout?")
    assert "id_token_hint=it" in resp.location
    assert rp.get("/session.json").json == {"signed_in": False}


def test_home_page_is_bilingual_and_the_old_login_address_still_works(rp: FlaskClient) -> None:
    page = rp.get("/").get_data(as_text=True)
    assert "社会保障服务" in page and "Social Security Services" in page
    assert "统一身份认证登录" in page and "Sign in" in page
    assert rp.get("/login").location == "/oidc/login"


def test_signed_in_page_masks_the_name_and_shows_no_enterprise(rp: FlaskClient) -> None:
    sign_in(rp, "sid-1")
    page = rp.get("/").get_data(as_text=True)
    assert 'id="signed-in"' in page and "张*" in page and "张三" not in page
    assert 'id="acting-for"' not in page
    assert rp.get("/session.json").json["acting_for"] is None


def test_acting_for_an_enterprise_is_shown(rp: FlaskClient) -> None:
    until = int(time.time()) + 86400
    sign_in(rp, "sid-1", org=ORG, authority={
        "role": "delegate", "level": 1, "chain": [{"level": 0, "sub": "rep"}],
        "items": ["employer-contributions", "other-item"], "valid_until": until})
    page = rp.get("/").get_data(as_text=True)
    acting = page.split('id="acting-for"', 1)[1].split("</section>", 1)[0]
    assert ORG["name"] in acting and ORG["credit_code"] in acting
    assert "经办人" in acting and "delegate" in acting
    items = page.split('id="authority-items"', 1)[1].split("</section>", 1)[0]
    assert "单位社保缴费申报" in items and "Employer social insurance contributions" in items
    assert "other-item" in items and "UTC+8" in items
    assert rp.get("/enterprise").status_code == 200
    assert rp.get("/session.json").json["authority_items"] == ["employer-contributions",
                                                               "other-item"]


@pytest.mark.parametrize(("authority", "status"), [
    pytest.param({"role": "representative", "level": 0, "chain": [], "items": ["*"],
                  "valid_until": None}, 200, id="representative"),
    pytest.param({"role": "delegate", "level": 1, "chain": [], "items": ["other-item"],
                  "valid_until": None}, 403, id="item-not-granted"),
    pytest.param({"role": "delegate", "level": 1, "chain": [],
                  "items": ["employer-contributions"], "valid_until": int(time.time()) - 1},
                 403, id="expired"),
    pytest.param(None, 403, id="natural-person"),
])
def test_enterprise_business_needs_the_authority(rp: FlaskClient, authority: Any,
                                                 status: int) -> None:
    extra = {"org": ORG, "authority": authority} if authority else {}
    sign_in(rp, "sid-1", **extra)
    resp = rp.get("/enterprise")
    assert resp.status_code == status
    if status == 403:
        assert "未授权您办理此事项" in resp.get_data(as_text=True)


def test_records_step_up_to_level_two(rp: FlaskClient) -> None:
    sign_in(rp, "sid-1", acr="urn:idp:acr:realname:1")
    resp = rp.get("/records")
    assert resp.status_code == 302 and "level=2" in resp.location
    sign_in(rp, "sid-2")
    assert 'id="records"' in rp.get("/records").get_data(as_text=True)
