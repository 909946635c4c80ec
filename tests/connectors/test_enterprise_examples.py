"""The enterprise-claims examples of docs/integration §5.1 come from the platform itself.

A delegate of an enterprise signs in acting for it (``org_hint``); the ID token and userinfo
the platform issues are normalised (tests/connectors/examples.py) and compared with
docs/integration/examples/*-acting.json, so the documented contract cannot drift. Regenerate
after an intended change with ``IDP_UPDATE_EXAMPLES=1``.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from joserfc import jwt

from idp.platform import Platform
from simulator.business import credit_code
from tests.connectors.examples import Normaliser, check_examples, dump
from tests.delegation.helpers import days, delegation, id_number, open_org, phone
from tests.oidc.helpers import Pkce, auth_params, authorize, jwks, query, redeem, register, sign_in

ORG = credit_code("91", "350200", "MA000081")
ITEM = "employer-contributions"


def _acting(claims: dict[str, Any], normaliser: Normaliser, names: dict[str, str]
            ) -> dict[str, Any]:
    out = normaliser.claims(claims)
    authority = dict(out.get("authority") or {})
    if authority:
        authority["chain"] = [{**link, "sub": names.get(link["sub"], "<sub>")}
                              for link in authority["chain"]]
        if authority.get("valid_until") is not None:
            authority["valid_until"] = "<valid_until: Unix seconds>"
        out["authority"] = authority
    return out


def test_enterprise_claims_examples(client: FlaskClient, platform: Platform,
                                    make_citizen: Any) -> None:
    rep = make_citizen(id_number=id_number(81), phone=phone(81))
    staff = make_citizen(id_number=id_number(82), phone=phone(82), name="李四")
    rp = register(platform, allowed_account_kinds=["natural", "legal_acting"],
                  scope="openid profile")
    org_id = open_org(platform, rep.person_id, ORG, "厦门示例科技有限公司")
    with delegation(platform) as d:
        d.grant(rep.person_id, org_id, staff.person_id, [(rp.client_id, ITEM)], days(30))
    sign_in(client, platform, staff, level=2)
    pkce = Pkce()
    resp = authorize(client, auth_params(rp, pkce, org_hint=ORG, nonce="n-0S6_WzA2Mj",
                                         scope="openid profile"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    token = redeem(client, rp, query(resp.location)["code"], pkce).get_json()
    id_token = dict(jwt.decode(token["id_token"], jwks(client)).claims)
    userinfo = client.get("/userinfo", headers={
        "Authorization": f"Bearer {token['access_token']}"}).get_json()
    assert id_token["org"]["credit_code"] == ORG == userinfo["org"]["credit_code"]

    names = {id_token["sub"]: "<sub>",
             id_token["authority"]["chain"][0]["sub"]: "<sub of the legal representative>"}
    normaliser = Normaliser(platform.settings.issuer, rp.redirect_uri, rp.client_id)
    produced = {"id-token-claims-acting.json": dump(_acting(id_token, normaliser, names)),
                "userinfo-acting.json": dump(_acting(userinfo, normaliser, names))}
    check_examples(produced)
