"""Two server processes sharing PostgreSQL and Redis behave as one (issue 2, acceptance).

Two gunicorn processes serve ``idp.wsgi:app`` on two loopback ports with the same settings
(tests/integration/cluster.py). Whatever one process writes — an SSO session, a logout, a
revocation — the other must honour at once, because all state lives in PostgreSQL and the
Redis store (DESIGN.md: no ephemeral state in process globals).

Runs only on the postgres backend: `make test` deselects the ``postgres`` marker in the
embedded run and runs everything in the postgres run, so in CI these tests always execute.

The flows use standard OIDC (discovery, authorize with ``prompt=none``, token, end_session,
revocation, introspection) plus a generic form filler for the login and consent pages
(tests/integration/cluster.py), so page redesigns do not break them.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from idp.accounts.service import Accounts
from idp.accounts.sessions import COOKIE_NAME
from tests.conftest import CITIZEN
from tests.integration.cluster import (
    Cluster,
    FormFinder,
    Node,
    authorize_silently,
    oidc_endpoint,
    run_idp,
    sign_in,
)

pytestmark = pytest.mark.postgres

REDIRECT_URI = "http://127.0.0.1:9/cb"  # never fetched: the tests read the Location header


@pytest.fixture
def cluster(pg_template: str, tmp_path: Path) -> Iterator[Cluster]:
    from tests.pg import fresh_database

    with fresh_database(template=pg_template) as url:
        c = Cluster.start(url, os.environ["IDP_TEST_REDIS_URL"], tmp_path)
        try:
            yield c
        finally:
            c.stop()


@pytest.fixture
def seeded_citizen(cluster: Cluster) -> dict[str, str]:
    p = cluster.platform
    with p.db.session() as session:
        Accounts(session, p.protector, p.hasher).create(**CITIZEN)
    return CITIZEN


@pytest.fixture
def client(cluster: Cluster) -> dict[str, str]:
    """A confidential department system, registered through the admin CLI."""
    out = run_idp(cluster.env, "clients", "create", "--name", "两进程测试",
                  "--redirect-uri", REDIRECT_URI, "--grant-type", "authorization_code",
                  "--grant-type", "refresh_token", "--scope", "openid offline_access",
                  "--json")
    return json.loads(out)  # type: ignore[no-any-return]


# ------------------------------------------------------------------ working today


def test_the_two_processes_are_separate_servers(cluster: Cluster) -> None:
    assert cluster.a.process.pid != cluster.b.process.pid
    assert cluster.a.url != cluster.b.url
    for node in (cluster.a, cluster.b):
        resp = node.get("/no-such-page")
        assert resp.status_code == 404
        assert "页面不存在" in resp.text  # the node's own error page, not a proxy's


def test_store_state_written_by_one_party_is_read_by_both(cluster: Cluster) -> None:
    """The SMS outbox lives in the Redis store: written once, visible through A and B."""
    phone = "139" + "".join(secrets.choice("0123456789") for _ in range(8))
    cluster.platform.sms.send(phone, "login_code", {"code": "246810"})
    for node in (cluster.a, cluster.b):
        resp = node.get(f"/dev/sms?phone={phone}&format=json")
        assert resp.status_code == 200
        assert [m["phone"] for m in resp.json()] == [phone]
        assert "246810" in resp.json()[0]["text"]


# ------------------------------------------------------------------ helpers for the flows


def login_through(node: Node, http: requests.Session, client: dict[str, str],
                  citizen: dict[str, str]) -> dict[str, list[str]]:
    """Authorization-code flow with password login on ``node``; the callback's parameters.
    Follows the redirects a browser would; a consent page is accepted as shown."""
    resp = http.get(oidc_endpoint(node, "authorization_endpoint"), allow_redirects=False,
                    timeout=10, params={
                        "response_type": "code", "client_id": client["client_id"],
                        "redirect_uri": REDIRECT_URI, "scope": "openid offline_access",
                        "state": "s", "nonce": "n", "prompt": "consent"})
    for _ in range(10):
        location = resp.headers.get("Location", "")
        if location.startswith(REDIRECT_URI):
            return parse_qs(urlsplit(location).query)
        if resp.status_code in (301, 302, 303):
            resp = node.get(location, http)
        elif 'type="password"' in resp.text:
            resp = sign_in(node, http, resp.url, citizen["id_number"], citizen["password"])
        else:
            resp = submit_first_form(node, http, resp)
    raise AssertionError(f"no redirect back to the client: {resp.status_code} {resp.url}")


def submit_first_form(node: Node, http: requests.Session,
                      page: requests.Response) -> requests.Response:
    """Submit the page's first form with its first named button, as a person pressing the
    primary button would (consent: "allow" comes first; logout: "sign out")."""
    finder = FormFinder()
    finder.feed(page.text)
    assert finder.forms, f"expected a form at {page.url}: {page.text[:300]}"
    form = finder.forms[0]
    data = {i["name"]: i.get("value", "") for i in form["inputs"]  # type: ignore[union-attr]
            if i.get("name") and i.get("type") in ("hidden", "submit")}
    for button in form["buttons"][:1]:  # type: ignore[index]
        data[button["name"]] = button.get("value", "")
    return node.post(urljoin(page.url, str(form["action"])), http, data=data)


def tokens_for(node: Node, client: dict[str, str], code: str) -> dict[str, str]:
    resp = requests.post(oidc_endpoint(node, "token_endpoint"), timeout=10,
                         auth=(client["client_id"], client["client_secret"]),
                         data={"grant_type": "authorization_code", "code": code,
                               "redirect_uri": REDIRECT_URI})
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


# ------------------------------------------------------------------ the acceptance flows


def test_sign_in_on_a_is_honoured_by_b(cluster, seeded_citizen, client) -> None:  # type: ignore[no-untyped-def]
    http = requests.Session()
    assert "code" in login_through(cluster.a, http, client, seeded_citizen)
    assert http.cookies.get(COOKIE_NAME)
    silent = authorize_silently(cluster.b, http, client, REDIRECT_URI)
    assert "code" in silent, silent  # B knows the session A started: no second login
    tokens = tokens_for(cluster.b, client, silent["code"][0])
    assert tokens["id_token"]


def test_logout_on_a_ends_the_session_on_b(cluster, seeded_citizen, client) -> None:  # type: ignore[no-untyped-def]
    http = requests.Session()
    code = login_through(cluster.a, http, client, seeded_citizen)["code"][0]
    id_token = tokens_for(cluster.a, client, code)["id_token"]
    sid = http.cookies.get(COOKIE_NAME)
    assert sid
    logout = http.get(oidc_endpoint(cluster.a, "end_session_endpoint"), timeout=10,
                      params={"id_token_hint": id_token}, allow_redirects=False)
    if logout.status_code == 200 and "<form" in logout.text:  # "sign out?" confirmation
        logout = submit_first_form(cluster.a, http, logout)
    assert logout.status_code in (200, 302, 303), logout.text[:300]
    assert not http.cookies.get(COOKIE_NAME)
    # Present the old cookie anyway (another tab, a copied cookie): the session must be
    # gone on the server side, for B as well, not merely forgotten by this browser.
    stale = requests.Session()
    stale.cookies.set(COOKIE_NAME, sid, domain="127.0.0.1", path="/")
    silent = authorize_silently(cluster.b, stale, client, REDIRECT_URI)
    assert silent.get("error") == ["login_required"], silent


def test_revocation_on_a_takes_effect_on_b(cluster, seeded_citizen, client) -> None:  # type: ignore[no-untyped-def]
    http = requests.Session()
    code = login_through(cluster.a, http, client, seeded_citizen)["code"][0]
    tokens = tokens_for(cluster.a, client, code)
    auth = (client["client_id"], client["client_secret"])
    introspect = oidc_endpoint(cluster.b, "introspection_endpoint")
    assert requests.post(introspect, auth=auth, timeout=10,
                         data={"token": tokens["access_token"]}).json()["active"] is True
    for kind in ("access_token", "refresh_token"):
        resp = requests.post(oidc_endpoint(cluster.a, "revocation_endpoint"), auth=auth,
                             timeout=10, data={"token": tokens[kind], "token_type_hint": kind})
        assert resp.status_code == 200
    assert requests.post(introspect, auth=auth, timeout=10,
                         data={"token": tokens["access_token"]}).json()["active"] is False
    refreshed = requests.post(oidc_endpoint(cluster.b, "token_endpoint"), auth=auth,
                              timeout=10, data={"grant_type": "refresh_token",
                                                "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
