"""The demo relying party's back-channel logout receiver (OIDC Back-Channel Logout 1.0 §2.6).

No platform needed: logout tokens are signed here with a key the RP believes is the OP's.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from demo.rp import create_rp
from demo.rp.backchannel import BACKCHANNEL_EVENT, LogoutTokenError, validate_logout_token
from demo.rp.config import SYSTEMS, RpConfig

ISSUER = "http://op.test"
CLIENT_ID = "rp-client"
OP_KEY = ECKey.generate_key("P-256", private=True, parameters={"kid": "op-1"})
OTHER_KEY = ECKey.generate_key("P-256", private=True, parameters={"kid": "op-1"})
JWKS = KeySet([OP_KEY]).as_dict(private=False)


def logout_token(key: ECKey = OP_KEY, header: dict[str, Any] | None = None,
                 **changes: Any) -> str:
    claims: dict[str, Any] = {"iss": ISSUER, "aud": CLIENT_ID, "iat": int(time.time()),
                              "exp": int(time.time()) + 120, "jti": uuid.uuid4().hex,
                              "sub": "person-1", "sid": "sid-1",
                              "events": {BACKCHANNEL_EVENT: {}}}
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return jwt.encode({"alg": "ES256", "kid": key.kid, **(header or {})}, claims, key)


def validate(token: str) -> Any:
    return validate_logout_token(token, load_jwks=lambda force: JWKS, issuer=ISSUER,
                                 client_id=CLIENT_ID)


def test_valid_logout_token_names_sid_and_sub() -> None:
    request = validate(logout_token(aud=[CLIENT_ID, "other"]))
    assert (request.sid, request.sub) == ("sid-1", "person-1")


@pytest.mark.parametrize("token", [
    pytest.param(logout_token(key=OTHER_KEY), id="bad-signature"),
    pytest.param(logout_token(iss="http://evil.test"), id="wrong-iss"),
    pytest.param(logout_token(aud="other-client"), id="wrong-aud"),
    pytest.param(logout_token(iat=None), id="no-iat"),
    pytest.param(logout_token(iat=int(time.time()) - 3600), id="old-iat"),
    pytest.param(logout_token(iat=int(time.time()) + 3600), id="future-iat"),
    pytest.param(logout_token(exp=int(time.time()) - 3600), id="expired"),
    pytest.param(logout_token(events=None), id="no-events"),
    pytest.param(logout_token(events={"urn:other": {}}), id="other-event"),
    pytest.param(logout_token(events={BACKCHANNEL_EVENT: "yes"}), id="event-not-object"),
    pytest.param(logout_token(nonce="n-1"), id="nonce"),
    pytest.param(logout_token(sid=None, sub=None), id="no-sid-no-sub"),
    pytest.param(logout_token(sid=""), id="empty-sid"),
    pytest.param(logout_token(jti=None), id="no-jti"),
    pytest.param(logout_token(header={"typ": "at+jwt"}), id="access-token-typ"),
    pytest.param("", id="empty"),
    pytest.param("not.a.jwt", id="garbage"),
    pytest.param("x" * 20_000, id="oversized"),
])
def test_invalid_logout_tokens_are_refused(token: str) -> None:
    with pytest.raises(LogoutTokenError):
        validate(token)


@pytest.fixture
def rp(tmp_path: Path) -> FlaskClient:
    config = RpConfig(system=SYSTEMS["social_security"], base_url="http://127.0.0.1:5101",
                      issuer=ISSUER, client_id=CLIENT_ID, client_secret="s", data_dir=tmp_path,
                      secret_key="test-secret")
    app = create_rp(config)
    # Pre-loaded metadata: authlib then uses these keys without fetching anything.
    app.extensions["authlib.integrations.flask_client"].idp.server_metadata.update(
        {"issuer": ISSUER, "jwks": JWKS, "_loaded_at": time.time()})
    return app.test_client()


def sign_in(rp: FlaskClient, sid: str, sub: str = "person-1") -> None:
    sessions = rp.application.extensions["rp_sessions"]
    local_id = sessions.create(sid=sid, sub=sub, data={"sub": sub, "sid": sid, "name": "张*"})
    with rp.session_transaction() as s:
        s["lsid"] = local_id


def test_backchannel_logout_ends_only_the_named_session(rp: FlaskClient, tmp_path: Path) -> None:
    other = rp.application.test_client()
    sign_in(rp, "sid-1")
    sign_in(other, "sid-2")
    resp = rp.post("/backchannel-logout", data={"logout_token": logout_token()})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert rp.get("/session.json").json == {"signed_in": False}
    assert other.get("/session.json").json["signed_in"] is True


def test_backchannel_logout_by_sub_ends_every_session(rp: FlaskClient) -> None:
    other = rp.application.test_client()
    sign_in(rp, "sid-1")
    sign_in(other, "sid-2")
    resp = rp.post("/backchannel-logout", data={"logout_token": logout_token(sid=None)})
    assert resp.status_code == 200
    assert other.get("/session.json").json == {"signed_in": False}


@pytest.mark.parametrize("form", [
    {}, {"logout_token": ""}, {"logout_token": logout_token(nonce="x")},
    {"logout_token": logout_token(key=OTHER_KEY)},
])
def test_backchannel_logout_refuses_bad_tokens_with_400(rp: FlaskClient,
                                                         form: dict[str, str]) -> None:
    sign_in(rp, "sid-1")
    resp = rp.post("/backchannel-logout", data=form)
    assert resp.status_code == 400 and resp.json["error"] == "invalid_request"
    assert rp.get("/session.json").json["signed_in"] is True


def test_replayed_logout_token_is_refused(rp: FlaskClient) -> None:
    token = logout_token()
    assert rp.post("/backchannel-logout", data={"logout_token": token}).status_code == 200
    assert rp.post("/backchannel-logout", data={"logout_token": token}).status_code == 400


def test_logout_needs_the_csrf_token(rp: FlaskClient) -> None:
    sign_in(rp, "sid-1")
    assert rp.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert rp.get("/session.json").json["signed_in"] is True


def test_home_page_is_bilingual(rp: FlaskClient) -> None:
    page = rp.get("/").get_data(as_text=True)
    assert "社会保障服务" in page and "Social Security Services" in page
    assert "统一身份认证登录" in page and "Sign in" in page
