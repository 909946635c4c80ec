"""Enterprise claims in the connector (R-54, docs/integration §5.3): ``org`` and ``authority``.

The platform's fixed contract: while a person acts for a legal person, the ID token, userinfo
and introspection carry ``org: {credit_code, name, type}`` and ``authority: {role, level,
chain, items, valid_until}``. Tokens here are signed by the test with a key the connector
believes is the platform's, then verified as at sign-in.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from idp_connector import ConnectorConfig, MemorySessionStore, User, verify_id_token
from idp_connector.flask import IdpConnector, has_authority, require_authority
from idp_connector.handlers import LSID
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

ISS, AUD = "https://idp.example.gov.cn", "tax-system"
KEY = ECKey.generate_key("P-256", parameters={"kid": "k1", "alg": "ES256"})
NOW = int(time.time())
ORG = {"credit_code": "91350200MA2XXXXX1K", "name": "厦门示例科技有限公司", "type": "company"}


def authority(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"role": "delegate", "level": 1,
                            "chain": [{"level": 0, "sub": "rep-1"}, {"level": 1, "sub": "u1"}],
                            "items": ["tax-filing", "invoice"], "valid_until": NOW + 86400}
    base.update(changes)
    return base


def signed_in_claims(**extra: Any) -> dict[str, Any]:
    """An ID token as the platform signs it, verified the way the connector's callback does."""
    now = int(time.time())  # signed now, not at import: a long suite outlives 300 s
    claims = {"iss": ISS, "aud": AUD, "sub": "u1", "iat": now, "exp": now + 300,
              "nonce": "n1", "acr": "urn:idp:acr:realname:2", "amr": ["pwd"], **extra}
    token = jwt.encode({"alg": "ES256", "kid": "k1"}, claims, KEY)
    return verify_id_token(token, load_jwks=lambda force: KeySet([KEY]).as_dict(private=False),
                           issuer=ISS, client_id=AUD, nonce="n1")


def test_acting_for_reads_the_org_claim() -> None:
    user = User(signed_in_claims(org=ORG, authority=authority()))
    assert user.acting_for == ORG
    assert user.authority is not None and user.authority["role"] == "delegate"
    assert user.authority_items == ["tax-filing", "invoice"]


def test_a_natural_person_acts_for_nobody() -> None:
    user = User(signed_in_claims())
    assert (user.acting_for, user.authority, user.authority_items) == (None, None, [])
    assert user.has_authority("tax-filing") is False


@pytest.mark.parametrize(("org", "auth", "item", "expected"), [
    pytest.param(ORG, authority(), "tax-filing", True, id="granted-item"),
    pytest.param(ORG, authority(), "social-insurance", False, id="item-not-granted"),
    pytest.param(ORG, authority(items=["*"], role="representative", level=0,
                                valid_until=None), "anything", True, id="representative-all"),
    pytest.param(ORG, authority(valid_until=None), "invoice", True, id="no-end-date"),
    pytest.param(ORG, authority(valid_until=NOW - 1), "tax-filing", False, id="expired"),
    pytest.param(ORG, authority(items=["*"], valid_until=NOW - 1), "x", False,
                 id="expired-wildcard"),
    pytest.param(None, authority(), "tax-filing", False, id="authority-without-org"),
    pytest.param({"name": "无代码"}, authority(), "tax-filing", False, id="org-without-code"),
    pytest.param(ORG, None, "tax-filing", False, id="org-without-authority"),
    pytest.param(ORG, "tax-filing", "tax-filing", False, id="authority-not-object"),
    pytest.param(ORG, authority(items="tax-filing"), "tax-filing", False, id="items-not-list"),
    pytest.param(ORG, authority(role="owner"), "tax-filing", False, id="unknown-role"),
    pytest.param(ORG, authority(valid_until="2099-01-01"), "tax-filing", False,
                 id="valid-until-not-epoch"),
    pytest.param(ORG, authority(valid_until=True), "tax-filing", False, id="valid-until-bool"),
    pytest.param(ORG, {"org": ORG, "items": ["tax-filing"]}, "tax-filing", False,
                 id="old-planned-shape"),
])
def test_has_authority(org: Any, auth: Any, item: str, expected: bool) -> None:
    extra = {k: v for k, v in (("org", org), ("authority", auth)) if v is not None}
    assert User(signed_in_claims(**extra)).has_authority(item) is expected


def test_an_authority_ending_during_the_session_stops_counting() -> None:
    user = User(signed_in_claims(org=ORG, authority=authority(valid_until=NOW + 60)))
    assert user.has_authority("tax-filing", now=NOW) is True
    assert user.has_authority("tax-filing", now=NOW + 61) is False


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "test-secret-key-0123456789"
    store = MemorySessionStore()
    IdpConnector(app, config=ConnectorConfig(issuer=ISS, client_id=AUD, client_secret="s",
                                             base_url="https://tax.example.gov.cn"),
                 store=store)
    app.extensions["test_store"] = store

    @app.get("/file")
    @require_authority("tax-filing")
    def file() -> str:
        return "filed"

    @app.get("/can")
    def can() -> str:
        return str(has_authority("tax-filing"))
    return app


def _sign_in(app: Flask, claims: dict[str, Any]) -> Any:
    client = app.test_client()
    local_id = app.extensions["test_store"].create(sid="s1", sub="u1", data={"claims": claims})
    with client.session_transaction() as bag:
        bag[LSID] = local_id
    return client


def test_require_authority_sends_strangers_to_sign_in(app: Flask) -> None:
    resp = app.test_client().get("/file")
    assert resp.status_code == 302
    assert resp.location == "/oidc/login?next=/file"


@pytest.mark.parametrize(("extra", "status"), [
    pytest.param({"org": ORG, "authority": authority()}, 200, id="delegate-with-item"),
    pytest.param({"org": ORG, "authority": authority(items=["invoice"])}, 403, id="other-item"),
    pytest.param({"org": ORG, "authority": authority(valid_until=NOW - 5)}, 403, id="expired"),
    pytest.param({}, 403, id="natural-person"),
])
def test_require_authority(app: Flask, extra: dict[str, Any], status: int) -> None:
    client = _sign_in(app, signed_in_claims(**extra))
    resp = client.get("/file")
    assert resp.status_code == status
    if status == 403:
        page = resp.get_data(as_text=True)
        assert "未授权您办理此事项" in page and "has not authorised you" in page
        assert client.get("/can").get_data(as_text=True) == "False"
    else:
        assert resp.get_data(as_text=True) == "filed"
        assert client.get("/can").get_data(as_text=True) == "True"


@pytest.mark.parametrize("item", ["", "*"])
def test_require_authority_needs_one_item(item: str) -> None:
    with pytest.raises(ValueError):
        require_authority(item)
