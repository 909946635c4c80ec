"""The brokered-login world of tests: five in-process nodes and a person's journeys (issue 6).

National; province A (separate) with city A1; province B (separate, trusting peers up to
level 2) with city B1 (unified-separate). On the PostgreSQL test backend every node gets its
own fresh database cloned from the session's migrated template.

A test module takes the ``fed`` (per test) and ``shared`` (per module) fixtures by importing
``fed_fixture`` and ``shared_fixture``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.oidc import logout
from tests.conftest import BACKEND
from tests.federation.harness import Browser, Federation
from tests.oidc import helpers

P = dict(id_type="resident_id", id_number="350203199001011234", name="林小明",
         phone="13900139000", password="Lin-Passw0rd-1")


def build(root, db: Callable[[], str] | None = None,  # type: ignore[no-untyped-def]
          **prov_b) -> Federation:
    """The five nodes; ``db`` names a fresh database per node; ``prov_b``: B's settings."""
    fed = Federation(root)

    def add(name: str, level: str, region: str, **more) -> None:  # type: ignore[no-untyped-def]
        fed.add(name, level, region, **({"database_url": db()} if db else {}), **more)

    add("national", "national", "000000")
    add("prov-a", "province", "350000", parent="national")
    add("city-a1", "city", "350200", parent="prov-a")
    add("prov-b", "province", "440000", parent="national",
        **{"federation_max_level_from_peers": 2, **prov_b})
    add("city-b1", "city", "440300", parent="prov-b", federation_mode="unified_separate")
    fed.vouch("national", "prov-a")
    fed.vouch("prov-a", "city-a1")
    fed.vouch("national", "prov-b")
    fed.vouch("prov-b", "city-b1")
    return fed


@contextmanager
def world(root, request, **prov_b) -> Iterator[Federation]:  # type: ignore[no-untyped-def]
    """The federation on the test backend; closed (and its databases dropped) afterwards."""
    with ExitStack() as stack, pytest.MonkeyPatch.context() as mp:
        # The nodes are http://<name>.test: authlib allows plain HTTP only on loopback
        # (real nodes are HTTPS).
        mp.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
        db = None
        if BACKEND == "postgres":
            from tests.pg import fresh_database

            template = request.getfixturevalue("pg_template")

            def db() -> str:
                return stack.enter_context(fresh_database(template))

        fed = build(root, db, **prov_b)
        try:
            yield fed
        finally:
            fed.close()


@pytest.fixture(name="fed")
def fed_fixture(tmp_path, request) -> Iterator[Federation]:  # type: ignore[no-untyped-def]
    with world(tmp_path, request) as federation:
        yield federation


@pytest.fixture(name="shared", scope="module")
def shared_fixture(tmp_path_factory, request) -> Iterator[Federation]:  # type: ignore[no-untyped-def]
    """One federation for a module's checks that create nothing (speed: five nodes a build)."""
    with world(tmp_path_factory.mktemp("shared"), request) as federation:
        yield federation


def register_at(node, **overrides) -> int:  # type: ignore[no-untyped-def]
    """An account at ``node``, registered in the directory as its account creation does."""
    values = {**P, "realname_level": 3, **overrides}
    with node.platform.db.session() as session:
        person = Accounts(session, node.platform.protector, node.platform.hasher).create(
            **values)
        person_id = person.id
    node.fed.directory.register_person(values["id_type"], values["id_number"])
    return person_id


def department(node, **overrides) -> helpers.Rp:  # type: ignore[no-untyped-def]
    return helpers.register(node.platform, scope="openid profile realname", **overrides)


def start_at(browser: Browser, node, rp: helpers.Rp) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A department system of ``node`` sends the browser to log in; the login page URL."""
    pkce = helpers.Pkce()
    params = helpers.auth_params(rp, pkce, scope="openid profile realname")
    resp = browser.open("GET", f"{node.entity_id}/authorize?{urlencode(params)}")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return f"{node.entity_id}{resp.location}", {**params, "verifier": pkce.verifier}


def sign_in_at_home(browser: Browser, page, url: str, password: str = P["password"]):  # type: ignore[no-untyped-def]
    """At the home node's login page: the person's usual password login."""
    assert "/login" in url, url
    return browser.submit(page, url, {"identifier": P["id_number"], "password": password})


def brokered_login(fed: Federation, browser: Browser, rp: helpers.Rp, at: str = "prov-b"):  # type: ignore[no-untyped-def]
    """From B's department system through A1 and back; the final redirect to the system."""
    login_url, params = start_at(browser, fed.nodes[at], rp)
    page, url = browser.follow(login_url)
    assert 'id="federated-login"' in page.get_data(as_text=True)
    fed_url = f"{fed.nodes[at].entity_id}/login/federated?{urlsplit(login_url).query}"
    page, url = browser.follow(fed_url)
    body = page.get_data(as_text=True)
    assert 'id="doc-number"' in body and 'id="federated-continue"' in body
    page, url = browser.submit(page, fed_url, {"id_type": "resident_id",
                                              "id_number": P["id_number"]})
    assert url.startswith(fed.nodes["city-a1"].entity_id), url  # at the home node now
    final, _url = sign_in_at_home(browser, page, url)
    return final, params


def finish(fed: Federation, node_name: str, rp: helpers.Rp, final, params):  # type: ignore[no-untyped-def]
    assert final.status_code == 302, final.get_data(as_text=True)
    got = helpers.query(final.location)
    assert final.location.startswith(rp.redirect_uri) and got["state"] == params["state"], got
    client = fed.nodes[node_name].client()
    base = fed.nodes[node_name].entity_id
    resp = client.post("/token", base_url=base, headers=rp.basic(), data={
        "grant_type": "authorization_code", "code": got["code"],
        "redirect_uri": rp.redirect_uri, "code_verifier": params["verifier"]})
    assert resp.status_code == 200, resp.get_json()
    tokens = resp.get_json()
    info = client.get("/userinfo", base_url=base,
                      headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200, info.get_json()
    return tokens, info.get_json()


def relay_logouts(browser: Browser, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Deliver back-channel logout tokens between the in-process nodes (a department system,
    not a node, accepts); returns the list that records every notice posted, in order."""
    delivered: list[Any] = []

    def post(notice):  # type: ignore[no-untyped-def]
        delivered.append(notice)
        node = browser.node_of(notice.uri)
        if node is None:
            return None
        resp = node.client().post(urlsplit(notice.uri).path, base_url=node.entity_id,
                                  data={notice.form_field: notice.token})
        return None if resp.status_code == 200 else str(resp.status_code)

    monkeypatch.setattr(logout, "_post", post)
    return delivered


def end_sessions_at(node, person_id: int, reason: str) -> list[Any]:  # type: ignore[no-untyped-def]
    """The home node ends every session of the person and sends the logouts; the failures."""
    with node.platform.db.session() as session:
        notices = logout.end_person_sessions(node.platform, session,
                                             session.get(Person, person_id), reason)
    return logout.send_notices(node.platform, notices)
