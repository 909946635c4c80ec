"""QR ticket lifecycle in the Store (idp.accounts.qr; R-30)."""

from __future__ import annotations

import time

import pytest

from idp.accounts import qr as qr_module
from idp.accounts.qr import (
    QrError,
    QrTickets,
    TicketState,
    coarse_address,
    coarse_browser,
    session_level,
)
from idp.store import MemoryStore

ALICE, BOB = 11, 22


@pytest.fixture
def tickets() -> QrTickets:
    return QrTickets(MemoryStore(), "test-secret-key", ttl=120)


def _new(tickets: QrTickets) -> tuple[str, str]:
    ticket, secret = tickets.create(client_id="c1", client_name="社保服务",
                                    browser_info="Chrome · Windows", address="203.0.113.*")
    return ticket.id, secret


def test_ticket_goes_pending_scanned_confirmed_then_redeems_once(tickets):
    tid, secret = _new(tickets)
    assert tickets.status(tid, secret)[0] is TicketState.PENDING
    scanned = tickets.scan(tid, person_id=ALICE, app_client_id="app")
    assert scanned.client_name == "社保服务" and scanned.browser_info == "Chrome · Windows"
    assert tickets.status(tid, secret)[0] is TicketState.SCANNED
    tickets.confirm(tid, person_id=ALICE, app_acr="urn:idp:acr:realname:2")
    state, left = tickets.status(tid, secret)
    assert state is TicketState.CONFIRMED and 0 < left <= 120
    redeemed = tickets.redeem(tid, secret)
    assert (redeemed.person_id, redeemed.app_level, redeemed.app_client_id) == (ALICE, 2, "app")
    with pytest.raises(QrError) as replay:
        tickets.redeem(tid, secret)
    assert replay.value.code == "expired"
    assert tickets.status(tid, secret)[0] is TicketState.EXPIRED


def test_denied_ticket_cannot_be_confirmed_or_redeemed(tickets):
    tid, secret = _new(tickets)
    tickets.scan(tid, person_id=ALICE, app_client_id="app")
    tickets.deny(tid, person_id=ALICE)
    assert tickets.status(tid, secret)[0] is TicketState.DENIED
    with pytest.raises(QrError) as late:
        tickets.confirm(tid, person_id=ALICE, app_acr="")
    assert late.value.code == "already_decided"
    with pytest.raises(QrError) as redeem:
        tickets.redeem(tid, secret)
    assert redeem.value.code == "not_confirmed"


@pytest.mark.parametrize(("steps", "code"), [
    (["confirm"], "not_scanned"),
    (["deny"], "not_scanned"),
    (["scan:alice", "scan:bob"], "taken"),
    (["scan:alice", "confirm:bob"], "taken"),
    (["scan:alice", "deny:bob"], "taken"),
    (["scan:alice", "confirm", "confirm"], "already_decided"),
    (["scan:alice", "confirm", "deny"], "already_decided"),
])
def test_out_of_order_or_foreign_steps_are_refused(tickets, steps, code):
    tid, _secret = _new(tickets)
    people = {"alice": ALICE, "bob": BOB}
    with pytest.raises(QrError) as refused:
        for step in steps:
            action, _, who = step.partition(":")
            pid = people[who or "alice"]
            if action == "scan":
                tickets.scan(tid, person_id=pid, app_client_id="app")
            elif action == "confirm":
                tickets.confirm(tid, person_id=pid, app_acr="urn:idp:acr:realname:1")
            else:
                tickets.deny(tid, person_id=pid)
    assert refused.value.code == code


def test_same_person_scanning_twice_is_harmless(tickets):
    tid, secret = _new(tickets)
    tickets.scan(tid, person_id=ALICE, app_client_id="app")
    assert tickets.scan(tid, person_id=ALICE, app_client_id="app").person_id == ALICE
    assert tickets.status(tid, secret)[0] is TicketState.SCANNED


@pytest.mark.parametrize("secret", ["", "another-browser-secret", "x" * 300])
def test_another_browser_sees_nothing_and_cannot_redeem(tickets, secret):
    tid, _mine = _new(tickets)
    tickets.scan(tid, person_id=ALICE, app_client_id="app")
    tickets.confirm(tid, person_id=ALICE, app_acr="urn:idp:acr:realname:1")
    assert tickets.status(tid, secret) == (TicketState.EXPIRED, 0)
    with pytest.raises(QrError) as refused:
        tickets.redeem(tid, secret)
    assert refused.value.code == "wrong_browser"
    assert tickets.status(tid, _mine)[0] is TicketState.CONFIRMED  # still the owner's


@pytest.mark.parametrize("ticket_id", ["", "nope", "a" * 65, "票据", "../../etc"])
def test_unknown_or_malformed_ticket_ids_are_expired(tickets, ticket_id):
    with pytest.raises(QrError) as refused:
        tickets.scan(ticket_id, person_id=ALICE, app_client_id="app")
    assert refused.value.code == "expired"
    assert tickets.status(ticket_id, "s")[0] is TicketState.EXPIRED


def test_ticket_expires_after_its_ttl_even_when_scanned(tickets, monkeypatch):
    tid, secret = _new(tickets)
    tickets.scan(tid, person_id=ALICE, app_client_id="app")
    later = time.time() + 121
    monkeypatch.setattr(qr_module.time, "time", lambda: later)
    assert tickets.status(tid, secret)[0] is TicketState.EXPIRED
    with pytest.raises(QrError) as refused:
        tickets.confirm(tid, person_id=ALICE, app_acr="")
    assert refused.value.code == "expired"


def test_cancel_by_the_owner_removes_the_ticket(tickets):
    tid, secret = _new(tickets)
    tickets.cancel(tid, "not-the-owner")
    assert tickets.status(tid, secret)[0] is TicketState.PENDING
    tickets.cancel(tid, secret)
    assert tickets.status(tid, secret)[0] is TicketState.EXPIRED


@pytest.mark.parametrize(("account", "app", "expected"), [
    (1, 1, 1), (2, 1, 1), (3, 2, 2), (2, 3, 2), (3, 3, 3), (2, 0, 1),
])
def test_qr_session_level_is_the_weaker_of_account_and_app(account, app, expected):
    assert session_level(account, app) == expected


@pytest.mark.parametrize(("ua", "expected"), [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
     "Chrome · Windows"),
    ("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/121.0", "Firefox · Linux"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1", "Safari · iOS"),
    ("", "?"),
])
def test_coarse_browser_names_family_and_system_only(ua, expected):
    assert coarse_browser(ua) == expected


@pytest.mark.parametrize(("address", "expected"), [
    ("203.0.113.77", "203.0.113.*"), ("2001:db8:1:2::5", "2001:db8:1:*"), ("-", "?"),
])
def test_coarse_address_hides_the_host(address, expected):
    assert coarse_address(address) == expected
