"""The person as the code flow reads it (idp/oidc/code.py `read_person`): a narrow snapshot
read fresh at /authorize (and its resume) and at the code's redemption, so a ban, a closure
or a password reset between two steps ends the flow at the next one (issue 2
"Performance", round 7: nine columns instead of the whole row)."""

from __future__ import annotations

import pytest

from idp.accounts.models import AccountStatus, Person
from idp.accounts.service import Accounts
from idp.oidc.code import read_person
from idp.oidc.person_cache import PersonSnapshot
from tests.oidc.helpers import (
    Pkce,
    auth_params,
    authorize,
    get_code,
    query,
    redeem,
    register,
    sign_in,
    sql_statements,
)


def _change(platform, citizen, how: str) -> None:  # type: ignore[no-untyped-def]
    with platform.db.session() as session:
        accounts = Accounts(session, platform.protector, platform.hasher)
        person = session.get(Person, citizen.person_id)
        if how == "ban":
            accounts.set_status(person, AccountStatus.BANNED)  # status and epoch
        elif how == "close":
            person.status = AccountStatus.CLOSED.value  # status alone, no epoch bump
        else:
            accounts.issue_random_password(person)  # epoch alone (a Core UPDATE)


CHANGES = ["ban", "close", "password_reset"]


@pytest.mark.parametrize("how", CHANGES)
def test_a_change_between_code_and_redemption_refuses_the_code(client, platform, citizen, how):
    rp = register(platform)
    pkce = Pkce()
    sign_in(client, platform, citizen)
    code = get_code(client, rp, pkce)
    _change(platform, citizen, how)
    resp = redeem(client, rp, code, pkce)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize("how", CHANGES)
def test_a_change_after_sign_in_gives_no_code(client, platform, citizen, how):
    rp = register(platform)
    sign_in(client, platform, citizen)
    assert "code" in query(authorize(client, auth_params(rp, Pkce())).location)
    _change(platform, citizen, how)
    resp = authorize(client, auth_params(rp, Pkce()))
    assert resp.status_code == 302 and "code" not in query(resp.location)


def test_the_flow_reads_no_secret_column_of_the_person(client, platform, citizen):
    """The snapshot holds what the flow decides on, not the password hash or timestamps."""
    rp = register(platform)
    pkce = Pkce()
    sign_in(client, platform, citizen)
    with sql_statements(platform) as seen:
        code = get_code(client, rp, pkce)
        assert redeem(client, rp, code, pkce).status_code == 200
    reads = [s for s in seen if "from person" in s]
    assert len(reads) == 2 and not any("password_hash" in s for s in reads)


def test_read_person_is_a_detached_snapshot(platform, citizen):
    with platform.db.session() as session:
        person = read_person(session, citizen.person_id)
        assert isinstance(person, PersonSnapshot)  # not mapped: nothing to flush
        assert (person.id, person.sub, person.is_active) == (citizen.person_id, citizen.sub,
                                                             True)
        assert not hasattr(person, "password_hash")
        assert read_person(session, citizen.person_id + 1000) is None
