"""An enterprise certificate sign-in (R-23) at OIDC clients, and the acting choice audited
once (issue 4 item 5 loose ends 1 and 3).

The certificate proves the enterprise, so the session acts for it by default wherever the
client serves ``legal_acting`` (an implicit ``org_hint``: no chooser when it covers the
client), and a natural-person-only client refuses it, saying it is an enterprise sign-in.
It proves nothing else (issue 4 review item 2): never "myself", never another enterprise
the representative holds, whatever ``org_hint`` or the chooser form say.
"""

from __future__ import annotations

import re

import pytest

from idp.audit.models import AuditRecord
from tests.oidc.helpers import Pkce, auth_params, authorize, query, redeem, sign_in, verify_id_token
from tests.oidc.test_acting_for import (
    BOTH,
    ORG_A,
    ORG_B,
    ORG_C,
    _choices,
    _choose,
    _code,
    _csrf,
    _world,
)
from tests.oidc.test_acting_for import world as world  # the fixture

X509 = ["x509"]


def _acting_audits(platform) -> list[AuditRecord]:
    with platform.db.session() as s:
        return s.query(AuditRecord).filter_by(action="oidc:acting_for").all()


@pytest.mark.parametrize("kinds", [BOTH, ["legal_acting"]])
def test_certificate_session_acts_for_its_enterprise_without_chooser(client, platform,
                                                                      make_citizen, kinds):
    w = _world(platform, make_citizen, kinds=kinds)
    sign_in(client, platform, w.rep, amr=X509, acting_for=ORG_A)
    pkce = Pkce()
    tok = redeem(client, w.rp, _code(authorize(client, auth_params(w.rp, pkce))), pkce)
    claims = verify_id_token(client, w.rp, tok.get_json()["id_token"])
    assert claims["org"]["credit_code"] == ORG_A and claims["amr"] == X509
    assert claims["authority"]["role"] == "representative"
    [record] = _acting_audits(platform)
    assert record.target == f"org:{ORG_A}" and record.details["via"] == "certificate"


@pytest.mark.parametrize("hint", ["not-a-code", ORG_C, ORG_A])
def test_unknown_or_own_org_hint_acts_for_the_certificate(client, platform, make_citizen, hint):
    w = _world(platform, make_citizen)
    sign_in(client, platform, w.rep, amr=X509, acting_for=ORG_A)
    pkce = Pkce()
    code = _code(authorize(client, auth_params(w.rp, pkce, org_hint=hint)))
    claims = verify_id_token(client, w.rp, redeem(client, w.rp, code, pkce).get_json()["id_token"])
    assert claims["org"]["credit_code"] == ORG_A


@pytest.mark.parametrize("choice", [ORG_A, ORG_B, "self", ""])
def test_org_hint_for_another_enterprise_offers_only_the_certificates(client, platform,
                                                                     make_citizen, choice):
    """The representative holds A and B; the certificate proves A; the client asks for B:
    the chooser offers A alone (no "myself"), and a forged choice still acts for A."""
    w = _world(platform, make_citizen, kinds=BOTH)
    sign_in(client, platform, w.rep, amr=X509, acting_for=ORG_A)
    pkce = Pkce()
    page = authorize(client, auth_params(w.rp, pkce, org_hint=ORG_B))
    assert page.status_code == 200
    assert _choices(page.get_data(as_text=True)) == [ORG_A]
    code = _code(_choose(client, page.get_data(as_text=True), choice))
    claims = verify_id_token(client, w.rp, redeem(client, w.rp, code, pkce).get_json()["id_token"])
    assert claims["org"]["credit_code"] == ORG_A


def test_org_hint_for_another_enterprise_with_prompt_none(client, platform, make_citizen):
    w = _world(platform, make_citizen)
    sign_in(client, platform, w.rep, amr=X509, acting_for=ORG_A)
    got = query(authorize(client, auth_params(w.rp, Pkce(), org_hint=ORG_B,
                                              prompt="none")).location)
    assert got["error"] == "account_selection_required"


@pytest.mark.parametrize("cert_org", [ORG_B, "91350100MA000009XX"])
def test_certificate_enterprise_not_covering_is_refused(client, platform, world, cert_org):
    """Not "myself" and not the staff member's other enterprises (A, C): access_denied."""
    sign_in(client, platform, world.staff, amr=X509, acting_for=cert_org)
    resp = authorize(client, auth_params(world.rp, Pkce()))
    assert resp.status_code == 302
    got = query(resp.location)
    assert got["error"] == "access_denied" and "prompt=login" in got["error_description"]


@pytest.mark.parametrize(("extra", "outcome"), [
    ({}, "refused"),
    ({"prompt": "none"}, "refused"),
    ({"prompt": "login"}, "login"),  # a fresh login may be a personal one
])
def test_natural_only_client_refuses_a_certificate_session(client, platform, make_citizen,
                                                           extra, outcome):
    w = _world(platform, make_citizen, kinds=["natural"])
    sign_in(client, platform, w.rep, amr=X509, acting_for=ORG_A)
    resp = authorize(client, auth_params(w.rp, Pkce(), **extra))
    assert resp.status_code == 302
    if outcome == "login":
        assert resp.location.startswith("/login?tx=")
        return
    got = query(resp.location)
    assert got["error"] == "access_denied"
    assert got["error_description"].startswith("account_kind_not_allowed")
    assert "enterprise certificate sign-in" in got["error_description"]


def test_natural_only_client_serves_a_password_session(client, platform, make_citizen):
    w = _world(platform, make_citizen, kinds=["natural"])
    sign_in(client, platform, w.rep)
    assert "code" in query(authorize(client, auth_params(w.rp, Pkce())).location)


# -- the choice is audited once ----------------------------------------------------------------


def _consent(client, page: str):
    tx = re.search(r'name="tx" value="([^"]+)"', page).group(1)
    return client.post("/authorize/consent", data={"tx": tx, "decision": "allow",
                                                   "csrf_token": _csrf(client)})


@pytest.mark.parametrize("how", ["chooser", "org_hint", "certificate"])
def test_choice_audited_once_across_the_consent_page(client, platform, make_citizen, how):
    w = _world(platform, make_citizen, skip_consent=False)
    if how == "certificate":
        sign_in(client, platform, w.staff, amr=X509, acting_for=ORG_C)
    else:
        sign_in(client, platform, w.staff)
    org = ORG_C if how == "certificate" else ORG_A
    first = authorize(client, auth_params(w.rp, Pkce(),
                                          org_hint=ORG_A if how == "org_hint" else None))
    page = first.get_data(as_text=True)
    if how == "chooser":
        page = _choose(client, page, ORG_A).get_data(as_text=True)
    assert "授权确认" in page
    assert _code(_consent(client, page))
    records = _acting_audits(platform)
    assert [(r.target, r.details["via"]) for r in records] == [(f"org:{org}", how)]
