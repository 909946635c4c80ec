"""The outbox on the test database (both backends): one sender per item, retry bookkeeping."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from idp.audit.models import AuditRecord
from idp.db import utcnow
from idp.federation import outbox
from idp.federation.node import federation
from idp.federation.outbox import DeliveryError, OutboxItem

TARGET = "http://peer.test"


@pytest.fixture
def sent(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """Test kinds: "ok" is delivered, "down" fails like an unreachable node."""
    calls: list[int] = []

    def ok(node, item) -> None:  # type: ignore[no-untyped-def]
        calls.append(item.payload["n"])

    def down(node, item) -> None:  # type: ignore[no-untyped-def]
        raise DeliveryError("unreachable: ConnectionError")

    monkeypatch.setitem(outbox._SENDERS, "ok", ok)
    monkeypatch.setitem(outbox._SENDERS, "down", down)
    return calls


def _queue(platform, kind: str, n: int, target: str = TARGET) -> None:  # type: ignore[no-untyped-def]
    with platform.db.session() as session:
        outbox.enqueue(session, target, kind, {"n": n})


def _items(platform) -> list[OutboxItem]:  # type: ignore[no-untyped-def]
    with platform.db.session() as session:
        return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))


def test_an_item_is_claimed_by_one_process_only(platform) -> None:  # type: ignore[no-untyped-def]
    for n in range(3):
        _queue(platform, "ok", n)
    now = utcnow()
    first, second = platform.db.sessions(), platform.db.sessions()
    try:
        mine = outbox._claim(first, now, 2)
        if first.get_bind().dialect.name == "postgresql":
            theirs = outbox._claim(second, now, 10)  # SKIP LOCKED: not the rows held above
            first.commit()
        else:  # SQLite has one writer at a time: the second claim comes after the first
            first.commit()
            theirs = outbox._claim(second, now, 10)
        second.commit()
    finally:
        first.close()
        second.close()
    assert [i.payload["n"] for i in mine] == [0, 1]
    assert [i.payload["n"] for i in theirs] == [2]
    # Claimed items are leased: nobody claims them again until the lease ends.
    with platform.db.session() as session:
        assert outbox._claim(session, now, 10) == []
        later = now + dt.timedelta(seconds=outbox.LEASE_SECONDS + 1)
        assert len(outbox._claim(session, later, 10)) == 3


def test_delivered_items_are_marked_and_not_sent_again(platform, sent) -> None:  # type: ignore[no-untyped-def]
    _queue(platform, "ok", 1)
    node = federation(platform)
    assert outbox.deliver_due(node).delivered == 1
    assert outbox.deliver_due(node).delivered == 0
    assert sent == [1]
    [item] = _items(platform)
    assert (item.status, item.attempts, item.delivered_at is not None) == ("delivered", 1, True)


def test_failures_back_off_and_a_success_pulls_the_rest_forward(platform, sent) -> None:  # type: ignore[no-untyped-def]
    node = federation(platform)
    _queue(platform, "down", 1)
    _queue(platform, "down", 2)
    assert outbox.deliver_due(node).retried == 2
    for item in _items(platform):
        assert (item.status, item.attempts) == ("pending", 1)
        assert item.next_attempt_at > utcnow() + dt.timedelta(seconds=5)
        assert item.last_error == "unreachable: ConnectionError"
    with platform.db.session() as session:  # the peer is back: a new event gets through
        for item in session.scalars(select(OutboxItem)):
            item.kind = "ok"
    _queue(platform, "ok", 3)
    assert outbox.deliver_due(node).delivered == 1
    assert outbox.deliver_due(node).delivered == 2  # the waiting ones, without back-off
    assert sent == [3, 1, 2]


def test_an_item_is_given_up_and_audited(platform, sent, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(outbox, "MAX_ATTEMPTS", 2)
    node = federation(platform)
    _queue(platform, "down", 1)
    _queue(platform, "no-such-kind", 2)
    report = outbox.deliver_due(node)
    assert (report.retried, report.failed) == (1, 1)  # an unknown kind is not retried
    far = utcnow() + dt.timedelta(days=1)
    assert outbox.deliver_due(node, now=far).failed == 1
    assert [i.status for i in _items(platform)] == ["failed", "failed"]
    with platform.db.session() as session:
        gave_up = list(session.scalars(select(AuditRecord).where(
            AuditRecord.action == "federation:outbox:give_up")))
    assert sorted(r.details["kind"] for r in gave_up) == ["down", "no-such-kind"]
    assert outbox.pending_count(node) == 0


def test_retry_now_makes_backed_off_items_due(platform, sent) -> None:  # type: ignore[no-untyped-def]
    node = federation(platform)
    _queue(platform, "down", 1)
    outbox.deliver_due(node)
    assert outbox.retry_now(node) == 1
    assert outbox.deliver_due(node).retried == 1


def test_cli_deliver_refuses_a_node_that_is_not_federated(idp_cli) -> None:  # type: ignore[no-untyped-def]
    result = idp_cli("federation", "deliver")
    assert result.exit_code == 2
    assert "not federated" in result.output


def test_cli_deliver_sends_what_is_due_and_now_skips_back_off(platform, idp_cli, sent,  # type: ignore[no-untyped-def]
                                                              monkeypatch) -> None:
    monkeypatch.setenv("IDP_FEDERATION_LEVEL", "national")
    monkeypatch.setenv("IDP_FEDERATION_REGION", "000000")
    _queue(platform, "ok", 1)
    _queue(platform, "down", 2)
    result = idp_cli("federation", "deliver")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "delivered 1, to retry 1, given up 0, pending 1"
    assert idp_cli("federation", "deliver").output.startswith("delivered 0, to retry 0")
    assert idp_cli("federation", "deliver", "--now").output.startswith(
        "delivered 0, to retry 1")
    assert sent == [1]
