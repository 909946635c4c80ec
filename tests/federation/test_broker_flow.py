"""Brokered logins end to end between in-process nodes (issue 6 item 3, separate mode).

A person registered at city A1 signs into a department system of province B with the account
they have: B finds A1 in the directory, is A1's relying party through the trust chain, links a
local federated account and hands B's department system the A1 identity, its level capped by
B's policy.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from joserfc import jwt

from idp.accounts.models import Person
from idp.audit.models import AuditRecord
from idp.federation import links
from tests.federation.broker_world import (
    P,
    brokered_login,
    department,
    fed_fixture,  # noqa: F401 (the fed and shared fixtures)
    finish,
    register_at,
    shared_fixture,  # noqa: F401
    sign_in_at_home,
    start_at,
)
from tests.federation.harness import Browser

pytestmark = pytest.mark.usefixtures("backend")  # both test backends (see broker_world)


def test_a1_person_signs_into_a_b_system_without_registering(fed) -> None:  # type: ignore[no-untyped-def]
    home_id = register_at(fed.nodes["city-a1"])
    rp = department(fed.nodes["prov-b"])
    browser = Browser(fed)
    final, params = brokered_login(fed, browser, rp)
    _tokens, info = finish(fed, "prov-b", rp, final, params)
    assert info["name"] == P["name"]
    assert info["realname_level"] == 2  # A1 says 3; B trusts peers up to 2
    b = fed.nodes["prov-b"]
    with b.platform.db.session() as session:
        person = session.query(Person).one()
        assert person.password_hash is None and person.channel == "federated"
        link = links.account_of(session, person.id)
        assert link.home_issuer == "http://city-a1.test" and link.home_level == 3
        actions = [r.action for r in session.query(AuditRecord).all()]
        assert "federation:login" in actions
        assert "federation:directory:lookup" in actions
    a1 = fed.nodes["city-a1"]
    with a1.platform.db.session() as session:
        subs = links.subscribers_of(session, home_id)
        assert [s.node_entity_id for s in subs] == ["http://prov-b.test"]
        assert subs[0].subject == link.home_sub
    # The local session at B carries the brokered method.
    sid = browser._clients["prov-b"].get_cookie("idp_sso", domain="prov-b.test")
    assert sid is not None
    s = b.platform.sessions.load(sid.value)
    assert s is not None and s.amr[0] == "fed" and "pwd" in s.amr


def test_second_brokered_login_reuses_the_linked_person(fed) -> None:  # type: ignore[no-untyped-def]
    register_at(fed.nodes["city-a1"])
    rp = department(fed.nodes["prov-b"])
    for _ in range(2):
        final, params = brokered_login(fed, Browser(fed), rp)
        finish(fed, "prov-b", rp, final, params)
    with fed.nodes["prov-b"].platform.db.session() as session:
        assert session.query(Person).count() == 1


def test_unified_separate_city_relays_the_a1_identity(fed) -> None:  # type: ignore[no-untyped-def]
    register_at(fed.nodes["city-a1"])
    b1 = fed.nodes["city-b1"]
    rp = department(b1)
    browser = Browser(fed)
    login_url, params = start_at(browser, b1, rp)
    # B1's own login page is the province's: the browser lands on B's login page.
    page, url = browser.follow(login_url)
    assert url.startswith("http://prov-b.test/login"), url
    fed_url = "http://prov-b.test/login/federated?" + urlsplit(url).query
    page, url = browser.follow(fed_url)
    page, url = browser.submit(page, fed_url, {"id_type": "resident_id",
                                              "id_number": P["id_number"]})
    final, _ = sign_in_at_home(browser, page, url)
    tokens, info = finish(fed, "city-b1", rp, final, params)
    assert info["name"] == P["name"] and info["realname_level"] == 2  # capped at B
    claims = jwt.decode(tokens["id_token"], _jwks(b1)).claims  # B1's own issuer and keys
    assert claims["iss"] == "http://city-b1.test" and claims["aud"] == rp.client_id
    with b1.platform.db.session() as session:
        person = session.query(Person).one()
        assert links.account_of(session, person.id).home_issuer == "http://prov-b.test"


def _jwks(node):  # type: ignore[no-untyped-def]
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(node.client().get("/jwks", base_url=node.entity_id)
                                 .get_json())


@pytest.mark.parametrize("path", ["/login", "/login/sms", "/register"])
def test_unified_separate_city_has_no_local_login_or_registration(shared, path) -> None:  # type: ignore[no-untyped-def]
    resp = shared.nodes["city-b1"].client().get(path, base_url="http://city-b1.test")
    assert resp.status_code == 302
    assert resp.location.startswith("/login/federated")


def test_registration_at_b_offers_the_existing_account(fed) -> None:  # type: ignore[no-untyped-def]
    register_at(fed.nodes["city-a1"])
    browser = Browser(fed)
    page, url = browser.follow("http://prov-b.test/register")
    page, url = browser.submit(page, url, {"name": P["name"], "id_type": "resident_id",
                                           "id_number": P["id_number"]})
    assert page.status_code == 409
    assert 'id="use-existing-account"' in page.get_data(as_text=True)
    page, url = browser.submit(page, "http://prov-b.test/login/federated",
                               {"id_type": "resident_id", "id_number": P["id_number"]})
    assert url.startswith("http://city-a1.test/login"), url
    with fed.nodes["prov-b"].platform.db.session() as session:
        assert session.query(Person).count() == 0
