"""Every refusal of a brokered login, and what the person sees (issue 6 items 3 and 5)."""

from __future__ import annotations

import time

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey
from requests.adapters import BaseAdapter

from idp.accounts.models import Person
from idp.audit.models import AuditRecord
from idp.federation import peer_auth, rp
from idp.oidc import runtime
from tests.federation.broker_world import (
    P,
    brokered_login,
    department,
    end_sessions_at,
    fed_fixture,  # noqa: F401 (the fed and shared fixtures)
    finish,
    register_at,
    relay_logouts,
    shared_fixture,  # noqa: F401
    world,
)
from tests.federation.harness import Browser, Federation
from tests.oidc import helpers

A1, B = "http://city-a1.test", "http://prov-b.test"


pytestmark = pytest.mark.usefixtures("backend")  # both test backends (see broker_world)


class Down(BaseAdapter):
    """A node that does not answer."""

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def,override]
        raise requests.ConnectionError(f"{request.url} refused")

    def close(self) -> None:
        pass


def cut(fed: Federation, at: str, target: str) -> None:
    """Node ``at`` can no longer reach ``target`` (and forgets cached chains)."""
    node = fed.nodes[at]
    node.fed.http.mount(fed.nodes[target].entity_id + "/", Down())
    node.platform.store.__init__()  # type: ignore[misc]  # MemoryStore: drop chain caches


def id_token(fed: Federation, **overrides):  # type: ignore[no-untyped-def]
    """An ID token as A1 would sign it for B, with ``overrides`` (None drops a claim)."""
    now = int(time.time())
    claims = {"iss": A1, "aud": B, "sub": "home-sub", "iat": now, "exp": now + 300,
              "nonce": "n-1"}
    key = overrides.pop("key", None) or runtime.keyring(fed.nodes["city-a1"].platform).signer()
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)


def check(fed: Federation, token: str, nonce: str = "n-1"):  # type: ignore[no-untyped-def]
    node = fed.nodes["prov-b"].fed
    return rp.verify_id_token(node, rp.provider(node, A1), token, nonce)


def test_a_good_id_token_is_accepted_once(shared) -> None:  # type: ignore[no-untyped-def]
    token = id_token(shared)
    assert check(shared, token)["sub"] == "home-sub"
    with pytest.raises(rp.BrokerError, match="replayed"):
        check(shared, token)


@pytest.mark.parametrize(("overrides", "nonce", "reason"), [
    ({"iss": "http://prov-a.test"}, "n-1", "wrong issuer"),
    ({"aud": "http://other.test"}, "n-1", "wrong audience"),
    ({"aud": [B, "http://other.test"]}, "n-1", "wrong audience"),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}, "n-1", "expired"),
    ({"iat": int(time.time()) + 3600}, "n-1", "not yet valid"),
    ({"exp": None}, "n-1", "exp and iat"),
    ({}, "n-2", "nonce"),
    ({"nonce": None}, "n-1", "nonce"),
    ({"sub": ""}, "n-1", "subject"),
    ({"key": ECKey.generate_key("P-256", {"kid": "forged"})}, "n-1", "bad signature"),
])
def test_bad_id_tokens_are_refused(shared, overrides, nonce, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(rp.BrokerError, match=reason) as caught:
        check(shared, id_token(shared, **overrides), nonce)
    assert caught.value.reason == "invalid_token"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "x" * 9000])
def test_malformed_id_tokens_are_refused(shared, token) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(rp.BrokerError) as caught:
        check(shared, token)
    assert caught.value.reason == "invalid_token"


def test_a_node_not_chaining_to_the_anchor_is_neither_op_nor_client(fed) -> None:  # type: ignore[no-untyped-def]
    fed.add("rogue", "city", "350200", parent="prov-a")  # never vouched for by prov-a
    with pytest.raises(rp.BrokerError) as caught:
        rp.start(fed.nodes["prov-b"].fed, "http://rogue.test")
    assert caught.value.reason == "untrusted"
    # …nor can it use A1 as a client: unknown client, no redirect to its URIs.
    resp = fed.nodes["city-a1"].client().get("/authorize", base_url=A1, query_string={
        "response_type": "code", "client_id": "http://rogue.test", "scope": "openid",
        "redirect_uri": "http://rogue.test/federation/callback", "state": "s",
        "code_challenge": helpers.Pkce().challenge, "code_challenge_method": "S256"})
    assert resp.status_code == 400 and not resp.location


def test_the_token_endpoint_wants_the_peers_federation_key(shared) -> None:  # type: ignore[no-untyped-def]
    """A peer client authenticates with private_key_jwt under its vouched-for key only."""
    forged = ECKey.generate_key("P-256", {"kid": shared.nodes["prov-b"].fed.keys.signer().kid})
    assertion = peer_auth.create_assertion(forged, B, A1 + "/token")
    resp = shared.nodes["city-a1"].client().post("/token", base_url=A1, data={
        "grant_type": "authorization_code", "code": "x", "redirect_uri": B + rp.CALLBACK_PATH,
        "client_id": B, "client_assertion_type": peer_auth.ASSERTION_TYPE,
        "client_assertion": assertion})
    # RFC 6749 §5.2: 400, as the client authenticated in the body, not with a header.
    assert resp.status_code in (400, 401) and resp.get_json()["error"] == "invalid_client"


def _federated_form(fed: Federation, browser: Browser):  # type: ignore[no-untyped-def]
    page, url = browser.follow(B + "/login/federated")
    return browser.submit(page, url, {"id_type": "resident_id", "id_number": P["id_number"]})


def test_home_node_unreachable_gives_a_clear_page_and_creates_nothing(fed) -> None:  # type: ignore[no-untyped-def]
    register_at(fed.nodes["city-a1"])
    cut(fed, "prov-b", "city-a1")
    page, url = _federated_form(fed, Browser(fed))
    assert page.status_code == 503 and url.startswith(B)
    assert "暂时无法连接您注册地的平台" in page.get_data(as_text=True)
    with fed.nodes["prov-b"].platform.db.session() as session:
        assert session.query(Person).count() == 0
        refused = [r for r in session.query(AuditRecord).all()
                   if r.action == "federation:login:refused"]
        assert refused and refused[-1].details["reason"] == "unreachable"


def test_directory_unreachable_leaves_local_users_alone(fed) -> None:  # type: ignore[no-untyped-def]
    b = fed.nodes["prov-b"]
    register_at(b, id_number="440301199202020022", phone="13700137000")
    cut(fed, "prov-b", "national")
    browser = Browser(fed)
    page, _url = _federated_form(fed, browser)
    assert page.status_code == 503
    assert "暂时无法查询全国互认目录" in page.get_data(as_text=True)
    # A local person signs in as usual.
    page, url = browser.follow(B + "/login")
    final, url = browser.submit(page, url, {"identifier": "440301199202020022",
                                            "password": P["password"]})
    assert final.status_code == 200 and "/account" in url, url


@pytest.mark.parametrize(("query", "status"), [
    ({}, 400),
    ({"state": "unknown", "code": "c"}, 400),
    ({"state": "x" * 80, "code": "c"}, 400),
    ({"error": "access_denied", "state": "s"}, 403),
])
def test_bad_callbacks_get_a_page_not_a_crash(shared, query, status) -> None:  # type: ignore[no-untyped-def]
    resp = shared.nodes["prov-b"].client().get(rp.CALLBACK_PATH, base_url=B, query_string=query)
    assert resp.status_code == status
    assert "跨地区登录" in resp.get_data(as_text=True)


@pytest.mark.parametrize(("number", "status", "text"), [
    ("350203199001011234", 404, "未找到该证件的注册记录"),
    ("", 400, "请选择证件类型"),
])
def test_unknown_or_missing_documents(shared, number, status, text) -> None:  # type: ignore[no-untyped-def]
    browser = Browser(shared)
    page, url = browser.follow(B + "/login/federated")
    page, url = browser.submit(page, url, {"id_type": "resident_id", "id_number": number})
    assert page.status_code == status and text in page.get_data(as_text=True)


def test_a_local_document_is_sent_to_the_local_login(fed) -> None:  # type: ignore[no-untyped-def]
    register_at(fed.nodes["prov-b"])
    page, _url = _federated_form(fed, Browser(fed))
    assert page.status_code == 409 and "请直接使用本平台账号登录" in page.get_data(as_text=True)


def test_home_logout_ends_the_session_here_and_tells_our_systems(fed, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A1 ends the person's sessions → back-channel logout to B → B's systems told."""
    a1, b = fed.nodes["city-a1"], fed.nodes["prov-b"]
    person_id = register_at(a1)
    rp_b = department(b, backchannel_logout_uri="https://rp.example.gov.cn/bcl")
    browser = Browser(fed)
    final, params = brokered_login(fed, browser, rp_b)
    finish(fed, "prov-b", rp_b, final, params)
    delivered = relay_logouts(browser, monkeypatch)
    assert end_sessions_at(a1, person_id, "test") == []
    delivered = [(notice.client_id, notice.uri) for notice in delivered]
    assert (B, B + rp.BACKCHANNEL_PATH) in delivered
    assert (rp_b.client_id, "https://rp.example.gov.cn/bcl") in delivered
    with b.platform.db.session() as session:
        linked = session.query(Person).one()
        assert b.platform.sessions.sessions_of(linked.id) == set()


@pytest.mark.parametrize("token", ["", "x.y.z", "forged"])
def test_forged_logout_tokens_are_refused(shared, token) -> None:  # type: ignore[no-untyped-def]
    if token == "forged":
        now = int(time.time())
        key = ECKey.generate_key("P-256", {"kid": "forged"})
        token = jwt.encode({"alg": "ES256", "kid": "forged"}, {
            "iss": A1, "aud": B, "sub": "s", "iat": now, "exp": now + 60, "jti": "j1",
            "events": {rp.BACKCHANNEL_EVENT: {}}}, key)
    resp = shared.nodes["prov-b"].client().post(rp.BACKCHANNEL_PATH, base_url=B,
                                             data={"logout_token": token})
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


def test_directory_lookups_from_one_browser_are_rate_limited(tmp_path, request) -> None:  # type: ignore[no-untyped-def]
    with world(tmp_path, request, federation_lookups_per_minute=2) as fed:
        browser = Browser(fed)
        statuses = []
        for _ in range(3):
            page, _url = _federated_form(fed, browser)
            statuses.append(page.status_code)
        assert statuses == [404, 404, 429]
        assert "查询过于频繁" in page.get_data(as_text=True)
        with fed.nodes["prov-b"].platform.db.session() as session:
            outcomes = [r.outcome for r in session.query(AuditRecord).all()
                        if r.action.startswith("federation:directory")]
            assert outcomes.count("rate_limited") == 1


def test_a_callback_carried_to_another_browser_is_refused(fed) -> None:  # type: ignore[no-untyped-def]
    """Login CSRF: the home node's answer only counts in the browser that asked for it."""
    import re
    from urllib.parse import urlsplit

    register_at(fed.nodes["city-a1"])
    attacker, victim = Browser(fed), Browser(fed)
    page, url = _federated_form(fed, attacker)
    assert url.startswith(A1 + "/login"), url
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    resp = attacker.open("POST", url, {"csrf_token": token.group(1),  # type: ignore[union-attr]
                                       "identifier": P["id_number"],
                                       "password": P["password"]})
    while not resp.location.startswith(B):  # through A1's resume, up to the way back to B
        nxt = resp.location if resp.location.startswith("http") else A1 + resp.location
        resp = attacker.open("GET", nxt)
    callback = resp.location
    assert urlsplit(callback).path == rp.CALLBACK_PATH
    page = victim.open("GET", callback)
    assert page.status_code == 400 and "登录请求已过期或已使用" in page.get_data(as_text=True)
    with fed.nodes["prov-b"].platform.db.session() as session:
        assert session.query(Person).count() == 0
    assert attacker.open("GET", callback).status_code == 400  # and the state is spent
