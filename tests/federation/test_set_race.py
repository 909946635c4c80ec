"""A ban and an unban for one person arriving together apply in ``toe`` order (issue 6 item 4).

Two real concurrent transactions (one thread, session and connection each, started by a
barrier) on the test backend: READ COMMITTED on PostgreSQL (IDP_TEST_BACKEND=postgres), the
writer lock on SQLite. The staleness check is slowed down, so without the link row's lock
both would see no newer event and the ban would win whatever its ``toe``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import pytest

from idp.accounts.models import Person
from idp.federation import events, links, set_receiver
from idp.federation.event_models import ReceivedEvent
from idp.federation.node import federation
from idp.platform import Platform

HOME = "https://a1.example"
SUB = "a1-sub"
PAUSE = 0.4


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"federation_level": "national", "federation_region": "000000"}


@pytest.fixture
def linked(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> int:
    """A person of A1 linked here; signatures are taken as verified (not what is raced)."""
    with platform.db.session() as session:
        person = links.link_account(
            session, home_issuer=HOME, home_sub=SUB, home_entity_id=HOME, level=2,
            claims={"id_type": "resident_id", "id_number": "350203199001011234",
                    "name": "林小明"}, protector=platform.protector)
        person_id = person.id

    def verified(node, token, now=None):  # type: ignore[no-untyped-def]
        body = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))

    newer_applied = set_receiver._newer_applied

    def slow(*args):  # type: ignore[no-untyped-def]
        result = newer_applied(*args)
        time.sleep(PAUSE)
        return result

    monkeypatch.setattr(set_receiver, "verify", verified)
    monkeypatch.setattr(set_receiver, "_newer_applied", slow)
    return person_id


def _token(event_type: str, toe: float) -> str:
    claims = {"iss": HOME, "aud": "http://localhost", "jti": f"jti-{event_type[-8:]}-{toe}",
              "iat": int(time.time()), "toe": toe,
              "sub_id": {"format": "iss_sub", "iss": HOME, "sub": SUB},
              "events": {event_type: {}}}

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'ES256', 'typ': events.SET_TYP})}.{part(claims)}.c2ln"


@pytest.mark.parametrize("ban_age, unban_age, final", [
    (20, 10, "active"),  # the unban is newer: the person may sign in again
    (10, 20, "banned"),  # the ban is newer: a late unban must not undo it
])
def test_concurrent_ban_and_unban_apply_in_toe_order(platform: Platform, linked: int,
                                                     ban_age: int, unban_age: int,
                                                     final: str) -> None:
    node = federation(platform)
    now = time.time()
    tokens = [_token(events.DISABLED, now - ban_age), _token(events.ENABLED, now - unban_age)]
    barrier = threading.Barrier(len(tokens))
    results: list[object] = [None] * len(tokens)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = set_receiver.receive(node, tokens[i]).outcome
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(isinstance(r, Exception) for r in results), results
    with platform.db.session() as session:
        assert session.get(Person, linked).status == final  # type: ignore[union-attr]
        recorded = {r.event_type: r.outcome for r in session.query(ReceivedEvent)}
    assert len(recorded) == 2 and set(recorded.values()) <= {"applied", "stale"}
