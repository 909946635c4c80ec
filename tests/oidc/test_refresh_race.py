"""Refresh rotation under concurrency (RFC 9700 §4.14.2, issue 2): of two uses of one
refresh token, exactly one wins; the other gets ``invalid_grant`` and, being a reuse, revokes
the whole family — the winner's new tokens included."""

from __future__ import annotations

import threading
import time

import pytest

from idp.oidc import refresh
from idp.oidc.tokens import AuthorizedPerson
from tests.conftest import BACKEND
from tests.oidc.helpers import Pkce, introspect, register, sign_in, tokens


@pytest.fixture
def rp(platform):
    return register(platform)


@pytest.fixture
def first(client, platform, citizen, rp):
    sign_in(client, platform, citizen)
    return tokens(client, rp, Pkce(), scope="openid offline_access")


def _refresh(app, rp, token: str) -> tuple[int, dict]:
    resp = app.test_client().post("/token", headers=rp.basic(), data={
        "grant_type": "refresh_token", "refresh_token": token})
    return resp.status_code, resp.get_json()


def test_two_concurrent_refreshes_one_wins_and_the_family_is_revoked(app, client, rp, first):
    barrier = threading.Barrier(2)
    results: list[tuple[int, dict]] = []

    def use() -> None:
        barrier.wait()
        results.append(_refresh(app, rp, first["refresh_token"]))

    threads = [threading.Thread(target=use) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(status for status, _ in results) == [200, 400]
    won = next(body for status, body in results if status == 200)
    lost = next(body for status, body in results if status == 400)
    assert lost["error"] == "invalid_grant"
    # The loser's use is a reuse: the family dies, the winner's fresh tokens with it.
    assert introspect(client, rp, won["refresh_token"])["active"] is False
    assert introspect(client, rp, won["access_token"])["active"] is False
    status, body = _refresh(app, rp, won["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")


def test_rotation_keeps_the_grant_and_narrows_scope(app, client, rp, first):
    status, second = _refresh(app, rp, first["refresh_token"])
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    status, third = _refresh(app, rp, second["refresh_token"])
    assert status == 200 and "offline_access" in third["scope"].split()
    # Narrowed without offline_access: an access token only; the chain ends here.
    resp = app.test_client().post("/token", headers=rp.basic(), data={
        "grant_type": "refresh_token", "refresh_token": third["refresh_token"],
        "scope": "openid"})
    body = resp.get_json()
    assert resp.status_code == 200 and "refresh_token" not in body
    assert introspect(client, rp, third["refresh_token"])["active"] is False
    assert introspect(client, rp, body["access_token"])["active"] is True


@pytest.mark.skipif(BACKEND != "postgres", reason="row locks: PostgreSQL")
@pytest.mark.postgres
def test_claim_waits_for_a_concurrent_claim_and_loses(platform, first):
    """The statement-level guarantee: while one transaction holds the claim, a second
    rotation of the same token waits for it, then inserts nothing and reports the loss."""
    key = platform.settings.secret_key
    outcome: list[bool] = []

    def rotate(session, token: str) -> bool:
        row, person = refresh.find_with_person(session, key, first["refresh_token"])
        user = AuthorizedPerson(person, None, row.auth_time, row.acr, list(row.amr),
                                gid=row.family_id, sub=person.sub)
        return refresh.rotate(session, key, row, token, client_id=row.client_id, user=user,
                              scope=row.scope, ttl=60)

    def second() -> None:
        with platform.db.session() as session:
            outcome.append(rotate(session, "second-successor"))

    with platform.db.session() as session:
        assert rotate(session, "first-successor") is True
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive() and not outcome  # blocked on the claimed row
    thread.join(30)
    assert outcome == [False]
    with platform.db.session() as session:
        assert refresh.find(session, key, "first-successor") is not None
        assert refresh.find(session, key, "second-successor") is None


def _rotate(session, key: str, row, person, token: str) -> bool:
    user = AuthorizedPerson(person, None, row.auth_time, row.acr, list(row.amr),
                            gid=row.family_id, sub=person.sub)
    return refresh.rotate(session, key, row, token, client_id=row.client_id, user=user,
                          scope=row.scope, ttl=60)


def test_a_token_revoked_after_it_was_read_is_not_rotated(platform, first):
    """A family revoked between reading the token and claiming it: the claim loses, no
    successor is stored (review: the claim checked only ``rotated_at``)."""
    key = platform.settings.secret_key
    with platform.db.session() as session:
        row, person = refresh.find_with_person(session, key, first["refresh_token"])
    with platform.db.session() as session:
        refresh.revoke_family(session, platform.services["oidc"].revoked, row.family_id)
    with platform.db.session() as session:
        assert _rotate(session, key, row, person, "late-successor") is False
        assert refresh.find(session, key, "late-successor") is None


@pytest.mark.skipif(BACKEND != "postgres", reason="advisory locks: PostgreSQL")
@pytest.mark.postgres
def test_a_revocation_waits_for_a_rotation_in_flight_and_takes_its_successor(platform, first):
    """A revocation of the family while a rotation is between its read and its commit
    waits for it, then revokes the successor too (review: it escaped the UPDATE)."""
    key = platform.settings.secret_key
    revoked = platform.services["oidc"].revoked
    done: list[bool] = []

    def revoke(family_id: str) -> None:
        with platform.db.session() as session:
            refresh.revoke_family(session, revoked, family_id)
        done.append(True)

    with platform.db.session() as session:
        row, person = refresh.find_with_person(session, key, first["refresh_token"])
        thread = threading.Thread(target=revoke, args=(row.family_id,))
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive() and not done  # waiting for the rotation's transaction
        assert _rotate(session, key, row, person, "successor") is True
    thread.join(30)
    assert done == [True]
    with platform.db.session() as session:
        successor = refresh.find(session, key, "successor")
        assert successor is not None and successor.revoked_at is not None
