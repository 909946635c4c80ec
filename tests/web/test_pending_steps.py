"""`idp.accounts.login.pending_steps`: the same answers as `Totp.enabled` and
`agreements.needs_resign`, read in one statement (issue 2 "Performance")."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.accounts.login import pending_steps
from idp.accounts.models import Person, TotpCredential
from idp.accounts.sessions import COOKIE_NAME
from idp.accounts.totp import Totp
from idp.realname import agreements
from idp.realname.models import AgreementAcceptance
from tests.oidc.helpers import sql_statements
from tests.web.conftest import enable_totp, login, make_tx

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _steps(platform, person_id: int, version: str = "2025-06") -> tuple[list[str], bool, bool]:
    """pending_steps, and what the two separate reads it replaces answer."""
    with platform.db.session() as db:
        person = db.get(Person, person_id)
        totp = Totp(db, platform.protector, platform.settings.secret_key)
        return (pending_steps(db, person, version), totp.enabled(person),
                agreements.needs_resign(db, person_id, version))


def _sign(platform, person_id: int, version: str, at: dt.datetime) -> None:
    with platform.db.session() as db:
        db.add(AgreementAcceptance(person_id=person_id, version=version, text_sha256="0" * 64,
                                   channel="web", accepted_at=at))


def test_nothing_pending_for_a_plain_account(platform, citizen):
    assert _steps(platform, citizen.person_id) == ([], False, False)


def test_only_a_confirmed_totp_is_a_step(platform, citizen):
    with platform.db.session() as db:
        db.add(TotpCredential(person_id=citizen.person_id, secret_enc="x"))
    assert _steps(platform, citizen.person_id) == ([], False, False)  # enrolment unfinished
    with platform.db.session() as db:
        cred = db.query(TotpCredential).filter_by(person_id=citizen.person_id).one()
        cred.confirmed_at = NOW
    assert _steps(platform, citizen.person_id) == (["totp"], True, False)


def test_the_latest_signature_decides_the_agreement_step(platform, citizen):
    _sign(platform, citizen.person_id, "2024-01", NOW)
    assert _steps(platform, citizen.person_id) == (["agreement"], False, True)
    _sign(platform, citizen.person_id, "2025-06", NOW + dt.timedelta(days=1))
    assert _steps(platform, citizen.person_id) == ([], False, False)
    _sign(platform, citizen.person_id, "2024-01", NOW - dt.timedelta(days=1))  # older
    assert _steps(platform, citizen.person_id) == ([], False, False)


def test_steps_come_in_the_order_they_are_asked(platform, citizen):
    with platform.db.session() as db:
        db.add(TotpCredential(person_id=citizen.person_id, secret_enc="x", confirmed_at=NOW))
        db.get(Person, citizen.person_id).must_change_password = True
    _sign(platform, citizen.person_id, "2024-01", NOW)
    assert _steps(platform, citizen.person_id)[0] == ["totp", "password_change", "agreement"]


# -- read with the password login's account lookup (issue 2 "Performance", round 7) ---------

def _login(client, platform, identifier: str, password: str):  # type: ignore[no-untyped-def]
    tx = make_tx(platform)
    with sql_statements(platform) as seen:
        resp = login(client, identifier, password, url=f"/login?tx={tx.id}")
    return resp, seen


@pytest.mark.parametrize("by", ["id_number", "phone"])
def test_password_login_reads_the_steps_with_the_person(client, platform, citizen, by):
    """One statement fewer per login: the TOTP and agreement facts come with the lookup and
    nothing reads them again — and they still decide the next step."""
    _sign(platform, citizen.person_id, "2000-01", NOW)  # an older agreement: sign again
    resp, seen = _login(client, platform, getattr(citizen, by), citizen.password)
    assert resp.status_code == 302 and "/agreement" in resp.location
    assert [s for s in seen if "totp_credential" in s or "agreement" in s] == \
        [s for s in seen if "from person" in s]
    assert len([s for s in seen if "from person" in s]) == 1

    enable_totp(platform, citizen.person_id)
    client.delete_cookie(COOKIE_NAME)
    resp, seen = _login(client, platform, getattr(citizen, by), citizen.password)
    assert resp.status_code == 302 and "/login/totp" in resp.location
    assert len([s for s in seen if "totp_credential" in s]) == 1


def test_facts_read_with_one_person_never_answer_for_another(platform, citizen, make_citizen):
    """`pending_steps` uses what the lookup read only for the person it read them for."""
    other = make_citizen(id_number="11010519491231002X", phone="13800138001")
    with platform.db.session() as db:
        db.add(TotpCredential(person_id=citizen.person_id, secret_enc="x", confirmed_at=NOW))
    with platform.db.session() as db:
        found = login_service(db, platform)._lookup(citizen.id_number)
        assert found is not None and found.id == citizen.person_id
        assert pending_steps(db, db.get(Person, other.person_id), "2025-06") == []
        # Used once: a later call reads again (and here finds the TOTP).
        assert pending_steps(db, found, "2025-06") == ["totp"]
    with platform.db.session() as db:
        found = login_service(db, platform)._lookup(citizen.id_number)
        assert pending_steps(db, found, "2025-06") == ["totp"]


def test_a_failed_lookup_leaves_no_facts_behind(platform, citizen):
    with platform.db.session() as db:
        login = login_service(db, platform)
        assert login._lookup(citizen.id_number) is not None
        assert login._lookup("110105194912319999") is None
        with sql_statements(platform) as seen:
            assert pending_steps(db, db.get(Person, citizen.person_id), "2025-06") == []
        assert any("totp_credential" in s for s in seen)  # read again, not remembered


def login_service(db, platform):  # type: ignore[no-untyped-def]
    from idp.accounts.lockout import Guards
    from idp.accounts.login import Login
    from idp.accounts.service import Accounts

    return Login(db, Accounts(db, platform.protector, platform.hasher),
                 Guards.build(platform.limiter, platform.settings),
                 platform.settings.secret_key, "127.0.0.1")
