"""Status travels: ban / unban / phone change at the home node reach every linked node.

In-process five-node federation (events_world.py): A1 is P's home; B linked P; B1 linked P
through B and has a department system with back-channel logout.
"""

from __future__ import annotations

import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import select

from idp.accounts.service import Accounts
from idp.audit.models import AuditRecord
from idp.federation import events, outbox, set_receiver
from idp.federation.event_models import ReceivedEvent
from tests.federation.events_world import SUB_AT_B, SUB_AT_B1, World, build_world


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:  # type: ignore[no-untyped-def]
    w = build_world(tmp_path, monkeypatch)
    yield w  # type: ignore[misc]
    w.fed.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> World:  # type: ignore[no-untyped-def]
    """One world for refusals, which change nothing (speed: six nodes per build)."""
    with pytest.MonkeyPatch.context() as mp:
        w = build_world(tmp_path_factory.mktemp("shared"), mp)
        yield w  # type: ignore[misc]
        w.fed.close()


def _actions(world: World, name: str, action: str) -> list[AuditRecord]:
    with world.node(name).platform.db.session() as session:
        return list(session.scalars(select(AuditRecord).where(AuditRecord.action == action)
                                    .order_by(AuditRecord.seq)))


def test_ban_travels_a1_to_b_to_b1_and_unban_restores(world: World) -> None:
    world.ban_at_a1()
    [item] = [i for i in world.items("city-a1") if i.kind == events.KIND]
    assert item.target == world.node("prov-b").entity_id
    assert item.payload["sub_id"] == {"format": "iss_sub", "iss": "http://city-a1.test",
                                      "sub": SUB_AT_B}
    assert item.payload["events"] == {events.DISABLED: {"reason": "administrative"}}
    assert "冒用" not in str(item.payload)  # the staff's reason stays at home

    assert world.deliver("city-a1").delivered >= 1
    assert world.status("prov-b", world.person_b) == "banned"
    # B relayed onward to B1, under its own issuer and the sub B1 received.
    [relay] = world.items("prov-b")
    assert relay.payload["iss"] == "http://prov-b.test"
    assert relay.payload["sub_id"]["sub"] == SUB_AT_B1
    assert world.deliver("prov-b").delivered == 1
    assert world.status("city-b1", world.person_b1) == "banned"
    b1 = world.node("city-b1").platform
    assert b1.sessions.load(world.sid_b1) is None  # P's session at B1 ended
    assert [n.client_id for n in world.posted] == [world.client_b1]
    claims = jwt.decode(world.posted[0].token, jwt_keys(world)).claims
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]

    world.unban_at_a1()
    world.deliver("city-a1")
    world.deliver("prov-b")
    assert world.status("prov-b", world.person_b) == "active"
    assert world.status("city-b1", world.person_b1) == "active"
    # Sent and received events are audited at every hop.
    assert [r.outcome for r in _actions(world, "city-a1", "federation:event:sent")] == [
        "success", "success"]
    assert len(_actions(world, "city-b1", "federation:event:receive")) == 2


def jwt_keys(world: World):  # type: ignore[no-untyped-def]
    from idp.oidc import runtime

    return runtime.keyring(world.node("city-b1").platform).public_keys()


def test_phone_change_tells_linked_nodes_without_the_number(world: World) -> None:
    a1 = world.node("city-a1").platform
    b = world.node("prov-b").platform
    sso = b.sessions.start(person_id=world.person_b, sub="x", epoch=0, amr=["fed"], acr="1")
    with a1.db.session() as session:
        accounts = Accounts(session, a1.protector, a1.hasher)
        accounts.change_phone(accounts.get(world.person_a1), "13700137000")
    [item] = [i for i in world.items("city-a1") if i.kind == events.KIND]
    assert item.payload["events"] == {events.IDENTIFIER_CHANGED: {"changed": "phone"}}
    assert "13700137000" not in str(item.payload)
    world.deliver("city-a1")
    assert world.status("prov-b", world.person_b) == "active"  # not a status change
    assert b.sessions.load(sso.sid) is None  # next sign-in fetches the new claims from A1


def _set(world: World, *, signer: ECKey | None = None, iss: str = "http://city-a1.test",
         **changes: object) -> str:
    node = world.node("city-a1").fed
    claims = {"iss": iss, "aud": "http://prov-b.test", "jti": uuid.uuid4().hex,
              "iat": int(time.time()), "toe": time.time(),
              "sub_id": {"format": "iss_sub", "iss": iss, "sub": SUB_AT_B},
              "events": {events.DISABLED: {}}}
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    key = signer or node.keys.signer()
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": events.SET_TYP}, claims, key)


def _forged_key(world: World) -> ECKey:
    key = ECKey.generate_key("P-256", parameters={
        "kid": world.node("city-a1").fed.keys.signer().kid}, private=True)
    return key


def _rogue(world: World) -> str:
    """A node under the national node's name that nobody vouched for."""
    rogue = world.fed.add("rogue", "province", "450000", parent="national")
    return _set(world, signer=rogue.fed.keys.signer(), iss=rogue.entity_id)


REFUSALS = [
    ("forged signature", lambda w: _set(w, signer=_forged_key(w)), "invalid_key"),
    ("not chaining to the anchor", _rogue, "invalid_issuer"),
    ("wrong audience", lambda w: _set(w, aud="http://prov-a.test"), "invalid_audience"),
    ("stale iat", lambda w: _set(w, iat=int(time.time()) - 3600), "invalid_request"),
    ("iat in the future", lambda w: _set(w, iat=int(time.time()) + 3600), "invalid_request"),
    ("no jti", lambda w: _set(w, jti=None), "invalid_request"),
    ("about another node's account", lambda w: _set(
        w, sub_id={"format": "iss_sub", "iss": "http://prov-a.test", "sub": SUB_AT_B}),
     "invalid_request"),
    ("unknown event type", lambda w: _set(w, events={"urn:example:x": {}}),
     "invalid_request"),
    ("two events", lambda w: _set(w, events={events.DISABLED: {}, events.ENABLED: {}}),
     "invalid_request"),
    ("not a JWS", lambda w: "not.a-token", "invalid_request"),
    ("entity statement, not a SET", lambda w: w.node("city-a1").fed.entity_configuration(),
     "invalid_request"),
]


@pytest.mark.parametrize(("case", "make", "err"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_sets_change_nothing(shared: World, case: str, make, err: str) -> None:  # type: ignore[no-untyped-def]
    token = make(shared)
    resp = shared.node("prov-b").client().post(
        events.SET_PATH, data=token, content_type=events.MEDIA_TYPE)
    assert resp.status_code == 400, case
    assert resp.get_json()["err"] == err
    assert shared.status("prov-b", shared.person_b) == "active"
    audit = _actions(shared, "prov-b", "federation:event:receive")[-1]
    assert (audit.outcome, audit.details["err"]) == ("failure", err)
    with shared.node("prov-b").platform.db.session() as session:
        assert list(session.scalars(select(ReceivedEvent))) == []


@pytest.mark.parametrize("content_type", ["application/jwt", "text/plain",
                                          "application/x-www-form-urlencoded"])
def test_wrong_media_type_is_refused(shared: World, content_type: str) -> None:
    resp = shared.node("prov-b").client().post(events.SET_PATH, data=_set(shared),
                                               content_type=content_type)
    assert resp.status_code == 400
    assert resp.get_json()["err"] == "invalid_request"
    assert shared.status("prov-b", shared.person_b) == "active"


def test_replayed_jti_is_acknowledged_but_not_applied_again(world: World) -> None:
    client = world.node("prov-b").client()
    ban = _set(world)
    assert client.post(events.SET_PATH, data=ban,
                       content_type=events.MEDIA_TYPE).status_code == 202
    assert world.status("prov-b", world.person_b) == "banned"
    assert client.post(events.SET_PATH, data=_set(world, events={events.ENABLED: {}}),
                       content_type=events.MEDIA_TYPE).status_code == 202
    assert world.status("prov-b", world.person_b) == "active"
    # The captured ban token again: 202 (RFC 8935: a duplicate is not the sender's error),
    # no second effect.
    assert client.post(events.SET_PATH, data=ban,
                       content_type=events.MEDIA_TYPE).status_code == 202
    assert world.status("prov-b", world.person_b) == "active"
    outcomes = [r.outcome for r in _actions(world, "prov-b", "federation:event:receive")]
    assert outcomes == ["success", "success", "duplicate"]


def test_an_older_event_never_undoes_a_newer_one(world: World) -> None:
    node = world.node("prov-b").fed
    earlier = time.time() - 5
    assert set_receiver.receive(node, _set(world, events={events.ENABLED: {}})).outcome \
        == "applied"
    late_ban = set_receiver.receive(node, _set(world, toe=earlier))
    assert late_ban.outcome == "stale"
    assert world.status("prov-b", world.person_b) == "active"


def test_event_about_an_account_not_linked_here_is_acknowledged_and_ignored(world: World) -> None:
    result = set_receiver.receive(world.node("prov-b").fed, _set(world, sub_id={
        "format": "iss_sub", "iss": "http://city-a1.test", "sub": "someone-else"}))
    assert result.outcome == "unknown_subject"
    with world.node("prov-b").platform.db.session() as session:
        [row] = session.scalars(select(ReceivedEvent))
        assert row.outcome == "unknown_subject"


def test_node_advertises_its_set_endpoint(shared: World) -> None:
    chain = shared.node("city-a1").fed.resolver.resolve("http://prov-b.test")
    assert chain.metadata["federation_entity"]["set_endpoint"] == \
        "http://prov-b.test/federation/events"
    assert events.endpoint_of(shared.node("city-a1").fed, "http://prov-b.test") == \
        "http://prov-b.test/federation/events"


def test_no_subscribers_queues_nothing(world: World) -> None:
    """A person nobody linked: a ban stays local (and the outbox holds only the directory)."""
    a1 = world.node("city-a1").platform
    with a1.db.session() as session:
        other = Accounts(session, a1.protector, a1.hasher).create(
            id_type="resident_id", id_number="350203199202023456", name="王芳", phone=None)
        assert events.queue_for_subscribers(session, other, events.DISABLED, {},
                                            actor="t") == []
    assert {i.kind for i in world.items("city-a1")} == {outbox.DIRECTORY}
