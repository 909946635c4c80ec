"""The federation outbox: back-off, catch-up after a node was down, one sender per item,
and directory registration that never blocks local account creation (issue 6 items 2, 4)."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from requests.adapters import BaseAdapter
from sqlalchemy import select

from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.audit.models import AuditRecord
from idp.db import utcnow
from idp.federation import events, outbox
from idp.federation.event_models import ReceivedEvent
from idp.federation.models import DirectoryEntry
from idp.federation.outbox import OutboxItem
from tests.federation.events_world import World, build_world


class Down(BaseAdapter):
    """A node that does not answer."""

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def,override]
        raise requests.ConnectionError("connection refused")

    def close(self) -> None:
        pass


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:  # type: ignore[no-untyped-def]
    w = build_world(tmp_path, monkeypatch)
    yield w  # type: ignore[misc]
    w.fed.close()


def take_down(world: World, caller: str, target: str) -> None:
    world.node(caller).fed.http.mount(world.node(target).entity_id + "/", Down())


def bring_back(world: World) -> None:
    world.fed.connect()


@pytest.mark.parametrize(("attempts", "delay"), [(1, 10), (2, 20), (3, 40), (6, 320),
                                                 (9, 2560), (10, 3600), (40, 3600)])
def test_backoff_doubles_up_to_the_cap(attempts: int, delay: int) -> None:
    assert outbox.backoff(attempts, 10, 3600) == delay


def test_node_down_while_home_bans_catches_up_when_it_returns(world: World) -> None:
    take_down(world, "city-a1", "prov-b")
    world.ban_at_a1()  # the ban itself succeeds at home at once
    assert world.status("city-a1", world.person_a1) == "banned"
    assert world.deliver("city-a1").retried == 1  # (P's directory registration goes through)
    [item] = [i for i in world.items("city-a1") if i.kind == events.KIND]
    assert (item.status, item.attempts) == ("pending", 1)
    assert "unreachable" in item.last_error
    assert item.next_attempt_at > utcnow() + dt.timedelta(seconds=5)  # backed off
    assert world.deliver("city-a1").delivered == 0  # not due yet: nothing is sent
    assert world.status("prov-b", world.person_b) == "active"

    bring_back(world)
    later = utcnow() + dt.timedelta(seconds=15)
    assert outbox.deliver_due(world.node("city-a1").fed, now=later).delivered >= 1
    assert world.status("prov-b", world.person_b) == "banned"
    world.deliver("prov-b")
    assert world.status("city-b1", world.person_b1) == "banned"


def test_events_waiting_for_a_node_follow_the_first_that_gets_through(world: World) -> None:
    take_down(world, "city-a1", "prov-b")
    world.ban_at_a1()
    world.unban_at_a1()
    world.deliver("city-a1")
    sets = [i for i in world.items("city-a1") if i.kind == events.KIND]
    assert [i.attempts for i in sets] == [1, 1]
    bring_back(world)
    with world.node("city-a1").platform.db.session() as session:  # the ban's retry is due
        session.get(OutboxItem, sets[0].id).next_attempt_at = utcnow()
    world.deliver("city-a1")  # delivers the ban, which pulls the unban forward
    world.deliver("city-a1")
    assert [i.status for i in world.items("city-a1") if i.kind == events.KIND] == [
        "delivered", "delivered"]
    assert world.status("prov-b", world.person_b) == "active"  # applied in order


def test_a_repeated_delivery_is_applied_once(world: World) -> None:
    """The answer got lost and the sender tries again: 202, no second effect."""
    world.ban_at_a1()
    world.deliver("city-a1")
    [item] = [i for i in world.items("city-a1") if i.kind == events.KIND]
    with world.node("city-a1").platform.db.session() as session:
        row = session.get(OutboxItem, item.id)
        row.status, row.next_attempt_at = "pending", utcnow()
    assert world.deliver("city-a1").delivered == 1  # re-signed with a fresh iat, same jti
    with world.node("prov-b").platform.db.session() as session:
        assert len(list(session.scalars(select(ReceivedEvent)))) == 1
    assert len(world.items("prov-b")) == 1  # relayed once


@pytest.mark.parametrize("event_type, status_at_b", [
    (events.DISABLED, "banned"), (events.PURGED, "closed"),
    (events.ENABLED, None), (events.IDENTIFIER_CHANGED, None)])
def test_refused_events_are_retried_and_only_bans_and_closures_never_given_up(
        world: World, monkeypatch, caplog, event_type: str, status_at_b: str | None) -> None:  # type: ignore[no-untyped-def]
    """A ban that never arrives leaves the person signed in at B: it is retried for ever
    (with one alert when it crosses MAX_ATTEMPTS) and lands when B answers again."""
    a1 = world.node("city-a1")
    with a1.platform.db.session() as session:
        person = session.get(Person, world.person_a1)
        events.queue_for_subscribers(session, person, event_type, {}, actor="test")
    monkeypatch.setattr(outbox, "MAX_ATTEMPTS", 3)
    endpoint_of = events.endpoint_of
    monkeypatch.setattr(events, "endpoint_of", lambda node, eid: "http://prov-b.test/nowhere")
    day = utcnow()
    for _ in range(6):
        day += dt.timedelta(days=1)
        outbox.deliver_due(a1.fed, now=day)
    [item] = [i for i in world.items("city-a1") if i.kind == events.KIND]
    assert item.last_error == "answered 404"
    gave_up = _actions(world, "city-a1", "federation:outbox:give_up")
    overdue = _actions(world, "city-a1", "federation:outbox:overdue")
    alerts = [r for r in caplog.records if r.levelname == "ERROR" and "undelivered" in r.message]
    if status_at_b is None:
        assert (item.status, item.attempts, len(gave_up), overdue, alerts) == (
            "failed", 3, 1, [], [])
        return
    assert (item.status, item.attempts, gave_up) == ("pending", 6, [])
    assert len(overdue) == 1 and overdue[0].details["attempts"] == 3
    assert len(alerts) == 1
    monkeypatch.setattr(events, "endpoint_of", endpoint_of)  # B answers again
    assert outbox.deliver_due(a1.fed, now=day + dt.timedelta(days=1)).delivered == 1
    assert world.status("prov-b", world.person_b) == status_at_b


def _actions(world: World, name: str, action: str) -> list[AuditRecord]:
    with world.node(name).platform.db.session() as session:
        return list(session.scalars(select(AuditRecord).where(AuditRecord.action == action)))


def test_directory_registration_waits_for_the_parent_without_blocking_accounts(
        world: World) -> None:
    a1 = world.node("city-a1")
    take_down(world, "city-a1", "prov-a")
    with a1.platform.db.session() as session:  # local creation neither fails nor waits
        Accounts(session, a1.platform.protector, a1.platform.hasher).create(
            id_type="resident_id", id_number="35020319920202345X", name="王芳", phone=None)
    report = world.deliver("city-a1")
    assert report.retried == 2  # P's registration (from the fixture) and this one
    bring_back(world)
    far = utcnow() + dt.timedelta(minutes=5)
    assert outbox.deliver_due(a1.fed, now=far).delivered == 2
    prov_a = world.node("prov-a").fed
    assert prov_a.directory.find_home("resident_id", "35020319920202345x", "t") == \
        a1.entity_id
    with world.node("national").platform.db.session() as session:
        assert len(list(session.scalars(select(DirectoryEntry)))) == 2


def test_a_linked_visitor_is_not_registered_as_a_local_account(world: World) -> None:
    """B's federated person has its home at A1: B's outbox holds no registration for it."""
    assert all(i.kind != outbox.DIRECTORY for i in world.items("prov-b"))


def test_a_document_already_registered_elsewhere_is_given_up(world: World) -> None:
    world.deliver("city-a1")  # P registered with home A1
    b = world.node("prov-b")
    with b.platform.db.session() as session:
        Accounts(session, b.platform.protector, b.platform.hasher).create(
            id_type="resident_id", id_number="350203199202023456", name="王芳", phone=None)
    a1 = world.node("city-a1")
    with a1.platform.db.session() as session:
        Accounts(session, a1.platform.protector, a1.platform.hasher).create(
            id_type="resident_id", id_number="350203199202023456", name="王芳", phone=None)
    assert world.deliver("prov-b").delivered == 1
    report = world.deliver("city-a1")
    assert report.failed == 1  # a conflict does not get better by retrying
    [item] = [i for i in world.items("city-a1") if i.status == outbox.FAILED]
    assert item.last_error == "already registered at http://prov-b.test"
