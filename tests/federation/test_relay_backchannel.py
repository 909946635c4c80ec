"""Unified-separate relay of a home logout: A1 → B → B1 → B1's department system (issue 6)."""

from __future__ import annotations

from collections.abc import Iterator
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
    finish,
    register_at,
    sign_in_at_home,
    start_at,
    world,
)
from tests.federation.harness import Browser, Federation

pytestmark = pytest.mark.usefixtures("backend")  # both test backends (see broker_world)


@pytest.fixture
def fed(tmp_path, request) -> Iterator[Federation]:  # type: ignore[no-untyped-def]
    with world(tmp_path, request) as federation:
        yield federation


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

    delivered: list[str] = []

    def post(notice):  # type: ignore[no-untyped-def]
        """Deliver logout tokens between the in-process nodes; record every POST."""
        delivered.append(notice.uri)
        node = browser.node_of(notice.uri)
        if node is None:
            return None  # a department system accepts
        resp = node.client().post(urlsplit(notice.uri).path, base_url=node.entity_id,
                                  data={notice.form_field: notice.token})
        return None if resp.status_code == 200 else str(resp.status_code)

    monkeypatch.setattr(logout, "_post", post)
    with a1.platform.db.session() as session:
        notices = logout.end_person_sessions(a1.platform, session,
                                             session.get(Person, person_id), "ban")
    assert logout.send_notices(a1.platform, notices) == []
    assert delivered == ["http://prov-b.test" + rp.BACKCHANNEL_PATH,
                         "http://city-b1.test" + rp.BACKCHANNEL_PATH,
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
