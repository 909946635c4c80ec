"""Unified-separate relay of a home logout: A1 → B → B1 → B1's department system (issue 6)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from idp.accounts.models import Person
from idp.audit.models import AuditRecord
from idp.federation import rp
from idp.federation.peer_clients import peer_client
from idp.oidc import logout
from tests.federation.broker_world import (
    P,
    department,
    end_sessions_at,
    fed_fixture,  # noqa: F401 (the fed fixture)
    finish,
    register_at,
    relay_logouts,
    sign_in_at_home,
    start_at,
)
from tests.federation.harness import Browser

pytestmark = pytest.mark.usefixtures("backend")  # both test backends (see broker_world)


def test_a_home_logout_reaches_the_city_department_system(fed, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    a1, b1 = fed.nodes["city-a1"], fed.nodes["city-b1"]
    person_id = register_at(a1)
    system = department(b1, backchannel_logout_uri="https://dept.b1.example/bcl")
    browser = Browser(fed)
    login_url, params = start_at(browser, b1, system)
    page, url = browser.follow(login_url)
    fed_url = "http://prov-b.test/login/federated?" + urlsplit(url).query
    page, url = browser.follow(fed_url)
    page, url = browser.submit(page, fed_url, {"id_type": "resident_id",
                                              "id_number": P["id_number"]})
    final, _ = sign_in_at_home(browser, page, url)
    finish(fed, "city-b1", system, final, params)

    delivered = relay_logouts(browser, monkeypatch)
    assert end_sessions_at(a1, person_id, "ban") == []
    assert [notice.uri for notice in delivered] == [
        "http://prov-b.test" + rp.BACKCHANNEL_PATH, "http://city-b1.test" + rp.BACKCHANNEL_PATH,
        "https://dept.b1.example/bcl"]
    with b1.platform.db.session() as session:
        linked = session.query(Person).one()
        assert b1.platform.sessions.sessions_of(linked.id) == set()
        assert any(r.action == "federation:logout" for r in session.query(AuditRecord))


def test_a_replayed_logout_token_is_refused(fed, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The same logout token twice: the second is refused (jti accepted once)."""
    b, b1 = fed.nodes["prov-b"], fed.nodes["city-b1"]
    assert rp.provider(b1.fed, b.entity_id).issuer == b.entity_id  # B1 trusts B's chain
    peer = peer_client(b.platform, b1.entity_id)
    assert peer is not None and peer.backchannel_logout_uri == b1.entity_id + rp.BACKCHANNEL_PATH
    token = logout.logout_token(b.platform, peer, "home-sub", "sid-1")
    post = b1.client().post
    first = post(rp.BACKCHANNEL_PATH, base_url=b1.entity_id, data={"logout_token": token})
    again = post(rp.BACKCHANNEL_PATH, base_url=b1.entity_id, data={"logout_token": token})
    assert first.status_code == 200  # nobody linked to that subject: nothing to end
    assert again.status_code == 400
