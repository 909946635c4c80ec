"""The SET receiver against hostile senders (issue 6 item 5; security review of federation).

An unsigned SET must not make a node fetch from an address of the sender's choosing, nor
tell the sender what happened there; ``toe`` is a finite time in seconds, not in the future.
In-process world (events_world.py): P's home is A1, linked at B.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
import requests
from requests.adapters import BaseAdapter
from sqlalchemy import select

from idp.audit.models import AuditRecord
from idp.federation import events, set_receiver, trust
from idp.federation.set_receiver import SetError
from tests.federation.events_world import SUB_AT_B, World, build_world
from tests.federation.test_events import _set


class Recorder(BaseAdapter):
    """Any host that is not a node: remembers the URL and answers 404."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def,override]
        self.urls.append(request.url)
        resp = requests.Response()
        resp.status_code, resp._content, resp.url = 404, b"internal secret", request.url
        return resp

    def close(self) -> None:
        pass


class Down(Recorder):
    def send(self, request, **kwargs):  # type: ignore[no-untyped-def,override]
        self.urls.append(request.url)
        raise requests.ConnectionError("connection refused")


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> World:  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as mp:
        w = build_world(tmp_path_factory.mktemp("hardening"), mp)
        yield w  # type: ignore[misc]
        w.fed.close()


@pytest.fixture
def outside(shared: World):  # type: ignore[no-untyped-def]
    """Record every request B makes to a host that is not a node."""
    http = shared.node("prov-b").fed.http
    recorder = Recorder()
    http.mount("http://", recorder)
    http.mount("https://", recorder)
    yield recorder
    for prefix in ("http://", "https://"):
        http.mount(prefix, requests.adapters.HTTPAdapter())
    shared.node("prov-b").platform.limiter.clear(set_receiver.FAILURES, "127.0.0.1")


def _unsigned(iss: str, **changes: object) -> str:
    """A SET with a made-up signature: whatever the receiver does, it must not verify."""
    claims = {"iss": iss, "aud": "http://prov-b.test", "jti": uuid.uuid4().hex,
              "iat": int(time.time()), "toe": time.time(),
              "sub_id": {"format": "iss_sub", "iss": iss, "sub": SUB_AT_B},
              "events": {events.DISABLED: {}}, **changes}
    return _token(json.dumps(claims))


def _token(body: str) -> str:
    head = {"alg": "ES256", "typ": events.SET_TYP, "kid": "k1"}

    def part(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()

    return f"{part(json.dumps(head))}.{part(body)}.{part('not a signature')}"


@pytest.mark.parametrize("iss", [
    "http://127.0.0.1:6379/internal",  # loopback service
    "http://169.254.169.254/latest/meta-data",  # cloud metadata
    "http://10.0.0.8:8080",  # private network
    "https://attacker.example",  # a would-be node nobody here deals with
    "http://city-zz.test",  # node-shaped, but not one B knows
])
def test_unknown_iss_is_refused_without_any_fetch_or_oracle(shared: World, outside: Recorder,
                                                            iss: str) -> None:
    resp = shared.node("prov-b").client().post(
        events.SET_PATH, data=_unsigned(iss), content_type=events.MEDIA_TYPE)
    assert resp.status_code == 400
    assert resp.get_json() == {"err": "invalid_issuer", "description": "issuer not trusted"}
    assert outside.urls == []  # no request left the node
    with shared.node("prov-b").platform.db.session() as session:
        record = session.scalars(select(AuditRecord).where(
            AuditRecord.action == "federation:event:receive",
            AuditRecord.outcome == "failure").order_by(AuditRecord.seq.desc())).first()
    assert record is not None and iss in record.details["reason"]  # details for operators


def test_a_known_node_that_fails_to_resolve_is_not_fetched_again_at_once(shared: World) -> None:
    """A1 is known at B (a linked account's home) but unreachable: one attempt, a generic
    answer, and the failure remembered (negative cache) for the next SETs."""
    b = shared.node("prov-b")
    a1 = shared.node("city-a1").entity_id
    down = Down()
    b.fed.http.mount(a1 + "/", down)
    b.fed.resolver.forget(a1)
    try:
        for _ in range(3):
            resp = b.client().post(events.SET_PATH, data=_unsigned(a1),
                                   content_type=events.MEDIA_TYPE)
            assert resp.get_json() == {"err": "invalid_issuer",
                                       "description": "issuer not trusted"}
        assert len(down.urls) == 1
    finally:
        shared.fed.connect()
        b.fed.resolver.forget(a1)
        b.platform.limiter.clear(set_receiver.FAILURES, "127.0.0.1")


TOE = time.time()


@pytest.mark.parametrize("toe", [
    "NaN", "Infinity", "-Infinity",  # parse in Python's json, not JSON
    str(TOE + 3600),  # in the future: would outrank every later event for ever
    str(TOE * 1000),  # milliseconds
    "0", "-5", '"2026-01-01"', "true", "null",
])
def test_toe_must_be_finite_seconds_not_in_the_future(shared: World, toe: str) -> None:
    claims = json.loads(_set_claims(shared))
    body = json.dumps({**claims, "toe": "@@"}).replace('"@@"', toe)
    with pytest.raises(SetError) as refused:
        set_receiver.verify(shared.node("prov-b").fed, _token(body))
    assert refused.value.err == "invalid_request"


def _set_claims(world: World) -> str:
    token = _set(world)
    body = token.split(".")[1]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def test_toe_is_sent_in_seconds_and_accepted(shared: World) -> None:
    """RFC 8417 §2.2: NumericDate seconds on both sides (fractions order events in a second)."""
    b = shared.node("prov-b")
    with b.platform.db.session() as session:
        from idp.accounts.models import Person

        person = session.get(Person, shared.person_b)
        events.queue_for_subscribers(session, person, events.IDENTIFIER_CHANGED, {},
                                     actor="test")
    [item] = [i for i in shared.items("prov-b") if i.kind == events.KIND]
    assert abs(item.payload["toe"] - time.time()) < 60
    claims = set_receiver.verify(b.fed, _set(shared, toe=time.time() + 5))
    assert claims["toe"] > time.time()  # within the leeway


@pytest.mark.parametrize("entity_id, allow_http, ok", [
    ("https://node.example", False, True),
    ("https://node.example:8443/idp", False, True),
    ("http://node.example", False, False),
    ("http://127.0.0.1:5000", True, True),
    ("https://user:pw@node.example", False, False),
    ("https://node.example?x=1", False, False),
    ("https://node.example#f", False, False),
    ("ftp://node.example", True, False),
    ("file:///etc/passwd", True, False),
    ("https://" + "a" * 300 + ".example", False, False),
    (None, True, False),
])
def test_entity_ids_are_https_unless_http_is_allowed(entity_id, allow_http, ok) -> None:  # type: ignore[no-untyped-def]
    if ok:
        assert trust.check_entity_id(entity_id, allow_http=allow_http) == entity_id
    else:
        with pytest.raises(trust.TrustError):
            trust.check_entity_id(entity_id, allow_http=allow_http)


def test_without_allow_http_nothing_is_fetched_over_http() -> None:
    from idp.store import MemoryStore

    http = requests.Session()
    recorder = Recorder()
    http.mount("http://", recorder)
    http.mount("https://", recorder)
    resolver = trust.TrustResolver(trust.Fetcher(http), lambda: {"keys": []}, MemoryStore())
    with pytest.raises(trust.TrustError):
        resolver.resolve("http://node.example")
    with pytest.raises(trust.TrustError):  # an endpoint taken from a statement
        resolver.fetcher._get("http://node.example/federation/fetch")
    assert recorder.urls == []
