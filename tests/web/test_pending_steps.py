"""`idp.accounts.login.pending_steps`: the same answers as `Totp.enabled` and
`agreements.needs_resign`, read in one statement (issue 2 "Performance")."""

from __future__ import annotations

import datetime as dt

from idp.accounts.login import pending_steps
from idp.accounts.models import Person, TotpCredential
from idp.accounts.totp import Totp
from idp.realname import agreements
from idp.realname.models import AgreementAcceptance

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
