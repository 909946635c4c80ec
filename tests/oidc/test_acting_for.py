"""Acting for a legal person at sign-in (issue 4 item 5): the chooser, ``org_hint``, the
``org``/``authority`` claims everywhere, and live refusal once the authority ends."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from joserfc import jwt
from sqlalchemy import update

from idp.accounts.models import AccountStatus, Person
from idp.accounts.service import Accounts
from idp.accounts.sessions import public_sid
from idp.audit.models import AuditRecord
from idp.db import utcnow
from idp.delegation.bans import on_person_banned
from idp.delegation.models import Grant
from idp.delegation.representative import change_representative
from idp.delegation.service import Delegation
from idp.oidc import logout
from idp.oidc.subject import subject_for
from simulator.business import credit_code
from tests.delegation.helpers import days, delegation, id_number, open_org, phone
from tests.oidc.helpers import (
    Pkce,
    auth_params,
    authorize,
    introspect,
    jwks,
    query,
    redeem,
    register,
    sign_in,
    verify_id_token,
)

ORG_A = credit_code("91", "350100", "MA000001")  # the staff member's employer
ORG_B = credit_code("91", "350100", "MA000002")  # grants only for another system
ORG_C = credit_code("92", "350100", "MA000003")  # the staff member represents it
BCL = "https://rp.example.gov.cn/backchannel"
BOTH = ["natural", "legal_acting"]


@dataclass
class World:
    rep: object  # representative of A and B
    staff: object  # level-1 delegate of A at `rp` (licence, tax), of B at `other`; rep of C
    outsider: object
    orgs: dict[str, int]
    grants: dict[str, int]
    rp: object
    other: object


def _world(platform, make_citizen, kinds=BOTH, **rp_overrides) -> World:
    people = [make_citizen(id_number=id_number(50 + i), phone=phone(50 + i), name="李四")
              for i in range(3)]
    rep, staff, outsider = people
    rp = register(platform, allowed_account_kinds=kinds, backchannel_logout_uri=BCL,
                  **rp_overrides)
    other = register(platform, name="公积金", allowed_account_kinds=BOTH,
                     redirect_uris=["https://gjj.example.gov.cn/cb"])
    orgs = {"A": open_org(platform, rep.person_id, ORG_A, "福州甲科技有限公司"),
            "B": open_org(platform, rep.person_id, ORG_B, "福州乙商贸有限公司"),
            "C": open_org(platform, staff.person_id, ORG_C, "福州丙个体工商户")}
    with delegation(platform) as d:
        a = d.grant(rep.person_id, orgs["A"], staff.person_id,
                    [(rp.client_id, "licence"), (rp.client_id, "tax")], days(30))
        b = d.grant(rep.person_id, orgs["B"], staff.person_id, [(other.client_id, "*")],
                    days(30))
        grants = {"A": a.id, "B": b.id}
    return World(rep, staff, outsider, orgs, grants, rp, other)


@pytest.fixture
def world(platform, make_citizen) -> World:
    return _world(platform, make_citizen)


def _choices(html: str) -> list[str]:
    return re.findall(r'name="choice" value="([^"]+)"', html)


def _code(resp) -> str:
    assert resp.status_code == 302, resp.get_data(as_text=True)[:400]
    return query(resp.location)["code"]


def _tokens(client, rp, org_hint=ORG_A, scope="openid profile offline_access") -> dict:
    pkce = Pkce()
    code = _code(authorize(client, auth_params(rp, pkce, org_hint=org_hint, scope=scope)))
    resp = redeem(client, rp, code, pkce)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _csrf(client) -> str:
    with client.session_transaction() as sess:
        return sess["csrf"]


def _choose(client, html: str, choice: str):
    tx = re.search(r'name="tx" value="([^"]+)"', html).group(1)
    return client.post("/authorize/acting",
                       data={"tx": tx, "choice": choice, "csrf_token": _csrf(client)})


# -- the chooser ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kinds", "expected"), [
    (BOTH, ["self", ORG_A, ORG_C]),  # B's grant is for another system: not offered
    (["legal_acting"], [ORG_A, ORG_C]),  # no "myself" when the client serves only acting
])
def test_chooser_offers_only_covering_authority(client, platform, make_citizen, kinds,
                                                expected):
    w = _world(platform, make_citizen, kinds=kinds)
    sign_in(client, platform, w.staff)
    resp = authorize(client, auth_params(w.rp, Pkce()))
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    html = resp.get_data(as_text=True)
    assert sorted(_choices(html)) == sorted(expected)
    assert "福州甲科技有限公司" in html and "福州乙商贸有限公司" not in html
    assert 'name="csrf_token"' in html and "选择办事身份" in html


def test_chooser_page_in_english(client, platform, world):
    sign_in(client, platform, world.staff)
    resp = authorize(client, auth_params(world.rp, Pkce(), ui_locales="en"))
    html = resp.get_data(as_text=True)
    assert "Choose whom you act for" in html and "Myself" in html


def test_natural_only_client_never_asks(client, platform, make_citizen):
    w = _world(platform, make_citizen, kinds=["natural"])
    sign_in(client, platform, w.staff)
    code = _code(authorize(client, auth_params(w.rp, Pkce(), org_hint=ORG_A)))
    assert code  # straight to the client, acting for nobody


@pytest.mark.parametrize(("choice", "org"), [("self", None), (ORG_A, ORG_A), (ORG_C, ORG_C)])
def test_choosing_issues_a_code_acting_as_chosen(client, platform, world, choice, org):
    sign_in(client, platform, world.staff)
    pkce = Pkce()
    page = authorize(client, auth_params(world.rp, pkce)).get_data(as_text=True)
    resp = redeem(client, world.rp, _code(_choose(client, page, choice)), pkce)
    claims = verify_id_token(client, world.rp, resp.get_json()["id_token"])
    assert claims.get("org", {}).get("credit_code") == org


@pytest.mark.parametrize("choice", [ORG_B, "self-ish", "", "9" * 18])
def test_choosing_what_is_not_offered_shows_the_chooser_again(client, platform, make_citizen,
                                                              choice):
    w = _world(platform, make_citizen, kinds=["legal_acting"])
    sign_in(client, platform, w.staff)
    page = authorize(client, auth_params(w.rp, Pkce())).get_data(as_text=True)
    again = _choose(client, page, choice)
    assert again.status_code == 200 and sorted(_choices(again.get_data(as_text=True))) \
        == sorted([ORG_A, ORG_C])


def test_chooser_form_needs_csrf_and_a_live_transaction(client, platform, world):
    sign_in(client, platform, world.staff)
    page = authorize(client, auth_params(world.rp, Pkce())).get_data(as_text=True)
    tx = re.search(r'name="tx" value="([^"]+)"', page).group(1)
    assert client.post("/authorize/acting", data={"tx": tx, "choice": ORG_A}).status_code == 400
    stale = client.post("/authorize/acting", data={"tx": "nope", "choice": ORG_A,
                                                   "csrf_token": _csrf(client)})
    assert stale.status_code == 400 and "选择页面已过期" in stale.get_data(as_text=True)


# -- org_hint --------------------------------------------------------------------------------


@pytest.mark.parametrize(("hint", "chooser"), [
    (ORG_A, False),  # valid and covering: no question
    (ORG_A.lower(), False),  # codes are upper case; a lower-case hint still names A
    (ORG_B, True),  # valid, but the grant does not cover this client
    (credit_code("91", "350100", "MA000009"), True),  # valid code, no account
    ("not-a-code", True),
    ("9" * 200, True),
    ("", True),
])
def test_org_hint_presets_only_a_covering_choice(client, platform, world, hint, chooser):
    sign_in(client, platform, world.staff)
    resp = authorize(client, auth_params(world.rp, Pkce(), org_hint=hint))
    if chooser:
        assert resp.status_code == 200 and ORG_A in _choices(resp.get_data(as_text=True))
    else:
        assert resp.status_code == 302 and "code" in query(resp.location)


@pytest.mark.parametrize(("kinds", "outcome"), [(BOTH, "code"), (["legal_acting"], "denied")])
def test_person_without_authority(client, platform, make_citizen, kinds, outcome):
    w = _world(platform, make_citizen, kinds=kinds)
    sign_in(client, platform, w.outsider)
    resp = authorize(client, auth_params(w.rp, Pkce(), org_hint=ORG_A))
    got = query(resp.location)
    if outcome == "code":
        assert "code" in got
    else:
        assert got["error"] == "access_denied" and "legal person" in got["error_description"]


def test_prompt_none_without_a_choice_needs_account_selection(client, platform, world):
    sign_in(client, platform, world.staff)
    got = query(authorize(client, auth_params(world.rp, Pkce(), prompt="none")).location)
    assert got["error"] == "account_selection_required"
    with_hint = authorize(client, auth_params(world.rp, Pkce(), prompt="none", org_hint=ORG_A))
    assert "code" in query(with_hint.location)


# -- claims -----------------------------------------------------------------------------------


def _expected(world, rep_sub, staff_sub):
    return ({"credit_code": ORG_A, "name": "福州甲科技有限公司", "type": "enterprise"},
            {"role": "delegate", "level": 1,
             "chain": [{"level": 0, "sub": rep_sub}, {"level": 1, "sub": staff_sub}],
             "items": ["licence", "tax"]})


@pytest.mark.parametrize("subject_type", ["public", "pairwise"])
def test_claims_in_id_token_access_token_userinfo_introspection(client, platform, make_citizen,
                                                                subject_type):
    w = _world(platform, make_citizen, subject_type=subject_type)
    sign_in(client, platform, w.staff)
    tok = _tokens(client, w.rp)
    with platform.db.session() as s:
        from idp.oidc.models import Client

        rp_client = s.query(Client).filter_by(client_id=w.rp.client_id).one()
        secret = platform.settings.secret_key
        rep_sub = subject_for(rp_client, w.rep.sub, secret)
        staff_sub = subject_for(rp_client, w.staff.sub, secret)
    if subject_type == "pairwise":
        assert rep_sub != w.rep.sub and staff_sub != w.staff.sub
    org, authority = _expected(w, rep_sub, staff_sub)
    id_claims = verify_id_token(client, w.rp, tok["id_token"])
    at_claims = jwt.decode(tok["access_token"], jwks(client)).claims
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {tok['access_token']}"})
    assert info.status_code == 200
    seen = {"id_token": id_claims, "access_token": at_claims, "userinfo": info.get_json(),
            "introspection": introspect(client, w.rp, tok["access_token"]),
            "refresh_introspection": introspect(client, w.rp, tok["refresh_token"])}
    for where, claims in seen.items():
        assert claims["org"] == org, where
        until = claims["authority"].pop("valid_until")
        assert claims["authority"] == authority, where
        assert abs(until - days(30).timestamp()) < 120, where
        assert claims.get("sub", staff_sub) == staff_sub, where
    assert at_claims["actx"].startswith("v1.")  # the platform's reference, encrypted
    assert "actx" not in seen["introspection"] and "actx" not in seen["userinfo"]


def test_a_live_authority_refreshes_and_keeps_acting(app, client, platform, world):
    """Refresh re-reads the authority (live) and the new tokens act as before. The express
    lane answers it on the session path; on PostgreSQL its driver path has no session to
    re-read the authority through, so it hands the request to Flask (same answer)."""
    sign_in(client, platform, world.staff)
    tok = _tokens(client, world.rp)
    lane = app.wsgi_app
    before = lane.answered
    refreshed = client.post("/token", headers=world.rp.basic(), data={
        "grant_type": "refresh_token", "refresh_token": tok["refresh_token"]})
    assert refreshed.status_code == 200
    assert lane.answered == before + (not platform.db.drives_psycopg)
    got = introspect(client, world.rp, refreshed.get_json()["access_token"])
    assert got["active"] is True and got["org"]["credit_code"] == ORG_A
    assert got["authority"]["items"] == ["licence", "tax"]
    assert introspect(client, world.rp, tok["refresh_token"])["active"] is False


def test_representative_claims(client, platform, world):
    sign_in(client, platform, world.staff)  # the staff member represents C
    claims = verify_id_token(client, world.rp, _tokens(client, world.rp, ORG_C)["id_token"])
    assert claims["org"]["type"] == "enterprise" and claims["org"]["credit_code"] == ORG_C
    assert claims["authority"] == {"role": "representative", "level": 0, "items": ["*"],
                                   "chain": [{"level": 0, "sub": world.staff.sub}],
                                   "valid_until": None}


def test_acting_is_per_authorization_not_per_session(client, platform, world):
    sign_in(client, platform, world.staff)
    acting = _tokens(client, world.rp, ORG_A)
    pkce = Pkce()
    page = authorize(client, auth_params(world.other, pkce)).get_data(as_text=True)
    natural = redeem(client, world.other, _code(_choose(client, page, "self")), pkce).get_json()
    assert "org" in verify_id_token(client, world.rp, acting["id_token"])
    assert "org" not in jwt.decode(natural["access_token"], jwks(client)).claims
    assert "org" not in introspect(client, world.other, natural["access_token"])


def test_choice_is_audited(client, platform, world):
    sign_in(client, platform, world.staff)
    _tokens(client, world.rp)
    with platform.db.session() as s:
        found = s.query(AuditRecord).filter_by(action="oidc:acting_for").all()
    assert [r.target for r in found] == [f"org:{ORG_A}"]
    assert found[0].details["client"] == world.rp.client_id


# -- live enforcement ------------------------------------------------------------------------


def _cancel(platform, w):
    with delegation(platform) as d:
        d.cancel(w.rep.person_id, w.grants["A"])


def _narrow_away(platform, w):
    with delegation(platform) as d:  # only the other system now: no longer covers rp
        d.change(w.rep.person_id, w.grants["A"], scope=[(w.other.client_id, "*")])


def _narrow_items(platform, w):
    with delegation(platform) as d:  # still covers rp, but fewer items than issued
        d.change(w.rep.person_id, w.grants["A"], scope=[(w.rp.client_id, "licence")])


def _expire(platform, w):
    with platform.db.session() as s:
        s.execute(update(Grant).where(Grant.id == w.grants["A"])
                  .values(valid_until=utcnow() - dt.timedelta(seconds=1)))


def _new_representative(platform, w):
    with delegation(platform) as d:
        change_representative(d, w.orgs["A"], w.outsider.person_id, actor="test")


def _ban_representative(platform, w):
    with platform.db.session() as s:
        person = s.get(Person, w.rep.person_id)
        Accounts(s, platform.protector, platform.hasher).set_status(person,
                                                                    AccountStatus.BANNED)
        on_person_banned(Delegation.from_platform(s, platform), person.id, actor="test")


ENDINGS = [_cancel, _narrow_away, _narrow_items, _expire, _new_representative,
           _ban_representative]


@pytest.mark.parametrize("ending", ENDINGS, ids=lambda f: f.__name__.strip("_"))
def test_ended_authority_is_refused_everywhere_at_once(app, client, platform, world, ending):
    sign_in(client, platform, world.staff)
    pkce = Pkce()
    pending_code = _code(authorize(client, auth_params(world.rp, pkce, org_hint=ORG_A)))
    tok = _tokens(client, world.rp)
    for_b = _tokens(client, world.other, ORG_B)  # other authority: unaffected by A
    with app.app_context():
        ending(platform, world)
    assert redeem(client, world.rp, pending_code, pkce).get_json()["error"] == "invalid_grant"
    refreshed = client.post("/token", headers=world.rp.basic(), data={
        "grant_type": "refresh_token", "refresh_token": tok["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.get_json()["error"] == "invalid_grant"
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {tok['access_token']}"})
    assert info.status_code == 401 and 'error="invalid_token"' in info.headers["WWW-Authenticate"]
    assert introspect(client, world.rp, tok["access_token"]) == {"active": False}
    assert introspect(client, world.other, for_b["access_token"])["active"] is (
        ending is not _ban_representative)  # the banned person also represents B


def test_widening_keeps_tokens_working(client, platform, world):
    sign_in(client, platform, world.staff)
    tok = _tokens(client, world.rp)
    with delegation(platform) as d:
        d.change(world.rep.person_id, world.grants["A"], scope=[(world.rp.client_id, "*")])
    got = introspect(client, world.rp, tok["access_token"])
    assert got["active"] is True and got["authority"]["items"] == ["*"]


# -- back-channel logout ---------------------------------------------------------------------


@pytest.fixture
def posted(monkeypatch):
    sent: list[tuple[str, str]] = []

    class Ok:
        status_code = 200

    def fake_post(url, data=None, timeout=None, allow_redirects=True):
        sent.append((url, data["logout_token"]))
        return Ok()

    monkeypatch.setattr(logout.requests, "post", fake_post)
    return sent


@pytest.mark.parametrize("ending", [_cancel, _narrow_away, _ban_representative],
                         ids=lambda f: f.__name__.strip("_"))
def test_clients_acting_on_ended_authority_get_a_logout_token(app, client, platform, world,
                                                               posted, ending):
    s = sign_in(client, platform, world.staff)
    _tokens(client, world.rp)
    with app.app_context():
        ending(platform, world)
    assert [url for url, _ in posted] == [BCL]
    claims = jwt.decode(posted[0][1], jwks(client)).claims
    assert claims["sid"] == public_sid(platform.settings.secret_key, s.sid)
    assert claims["sub"] == world.staff.sub
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
    assert platform.sessions.load(s.sid) is not None  # the person may go on as themself
    with app.app_context():  # told once: a later change does not repeat it
        with delegation(platform) as d:
            d.cancel(world.rep.person_id, world.grants["B"])
    assert len(posted) == 1


def test_no_logout_token_while_authority_holds(app, client, platform, world, posted):
    sign_in(client, platform, world.staff)
    _tokens(client, world.rp)
    with app.app_context(), delegation(platform) as d:
        d.cancel(world.rep.person_id, world.grants["B"])  # another legal person
        d.change(world.rep.person_id, world.grants["A"], scope=[(world.rp.client_id, "*")])
    assert posted == []


def test_choice_survives_the_consent_page(client, platform, make_citizen):
    w = _world(platform, make_citizen, skip_consent=False)
    sign_in(client, platform, w.staff)
    pkce = Pkce()
    page = authorize(client, auth_params(w.rp, pkce)).get_data(as_text=True)
    consent_page = _choose(client, page, ORG_A)
    assert consent_page.status_code == 200 and "授权确认" in consent_page.get_data(as_text=True)
    tx = re.search(r'name="tx" value="([^"]+)"',
                   consent_page.get_data(as_text=True)).group(1)
    done = client.post("/authorize/consent", data={"tx": tx, "decision": "allow",
                                                   "csrf_token": _csrf(client)})
    tok = redeem(client, w.rp, _code(done), pkce).get_json()
    assert verify_id_token(client, w.rp, tok["id_token"])["org"]["credit_code"] == ORG_A
