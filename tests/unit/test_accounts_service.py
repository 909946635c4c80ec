"""Account operations: create, find, verify, status (R-30, R-63, R-70)."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from idp.accounts.models import AccountStatus, Person
from idp.accounts.service import (
    AccountExists,
    Accounts,
    AccountUnavailable,
    PhoneTaken,
    ensure_can_sign_in,
    normalize_document,
)
from tests.conftest import CITIZEN


@pytest.fixture
def session(platform):  # type: ignore[no-untyped-def]
    with platform.db.session() as s:
        yield s


@pytest.fixture
def accounts(platform, session):  # type: ignore[no-untyped-def]
    return Accounts(session, platform.protector, platform.hasher)


def test_create_encrypts_personal_fields(platform, citizen):
    with platform.db.session() as s:
        person = s.get(Person, citizen.person_id)
        stored = " ".join([person.id_number_enc, person.name_enc, person.phone_enc or ""])
        assert citizen.id_number not in stored and citizen.phone not in stored
        assert "张三" not in stored
        view = Accounts(s, platform.protector, platform.hasher).view(person, full=True)
        assert (view.id_number, view.name, view.phone) == (citizen.id_number, "张三",
                                                            citizen.phone)
        assert person.password_hash.startswith("$argon2id$")


def test_view_is_masked_by_default(accounts, citizen):
    view = accounts.view(accounts.get(citizen.person_id))
    assert (view.id_number, view.name, view.phone) == ("1101**********0029", "张*",
                                                        "138****8000")


def test_duplicate_document_is_refused(make_citizen):
    make_citizen()
    with pytest.raises(AccountExists):
        make_citizen(phone="13900139000", id_number="110105194912310029 ")


def test_duplicate_phone_is_refused(make_citizen):
    make_citizen()
    with pytest.raises(PhoneTaken):
        make_citizen(id_number="11010519491231002X", phone="+86 138-0013-8000")


@pytest.mark.parametrize("identifier", [
    "110105194912310029", " 110105194912310029 ", "１１０１０５１９４９１２３１００２９",
    "13800138000", "+8613800138000", "１３８００１３８０００",
])
def test_lookup_by_identifier(accounts, citizen, identifier):
    person = accounts.by_identifier(identifier)
    assert person is not None and person.id == citizen.person_id


def test_lookup_folds_lower_case_x(accounts, make_citizen):
    c = make_citizen(id_number="11010519491231002X")
    person = accounts.by_identifier("11010519491231002x")
    assert person is not None and person.id == c.person_id


@pytest.mark.parametrize("identifier", ["", "   ", "110105194912310028", "13900000000",
                                        "x" * 65])
def test_lookup_misses(accounts, citizen, identifier):
    assert accounts.by_identifier(identifier) is None


def test_normalize_document():
    assert normalize_document("１１０１ ０５x") == "110105X"


def test_password_check(accounts, citizen):
    person = accounts.get(citizen.person_id)
    assert accounts.check_password(person, citizen.password)
    assert not accounts.check_password(person, citizen.password + "!")
    assert not accounts.check_password(person, "")
    assert not accounts.check_password(person, "x" * 2000)


def test_legacy_hash_upgraded_to_argon2id_on_first_login(platform, make_citizen):
    legacy = "sha256$NaCl$" + hashlib.sha256(b"NaClold-secret").hexdigest()
    values = {**CITIZEN, "password": None}
    with platform.db.session() as s:
        person = Accounts(s, platform.protector, platform.hasher).create(
            **values, password_hash=legacy)
        person_id = person.id
    with platform.db.session() as s:
        accounts = Accounts(s, platform.protector, platform.hasher)
        person = accounts.get(person_id)
        assert not accounts.check_password(person, "wrong")
        assert person.password_hash == legacy
        assert accounts.check_password(person, "old-secret")
    with platform.db.session() as s:
        accounts = Accounts(s, platform.protector, platform.hasher)
        stored = s.scalars(select(Person.password_hash).where(Person.id == person_id)).one()
        assert stored.startswith("$argon2id$")
        assert accounts.check_password(accounts.get(person_id), "old-secret")


@pytest.mark.parametrize("status", [AccountStatus.BANNED, AccountStatus.CLOSED])
def test_status_check_refuses_inactive_and_ends_sessions(accounts, citizen, status):
    person = accounts.get(citizen.person_id)
    ensure_can_sign_in(person)
    epoch = person.security_epoch
    accounts.set_status(person, status)
    with pytest.raises(AccountUnavailable) as exc:
        ensure_can_sign_in(person)
    assert exc.value.code == f"account_{status.value}"
    assert person.security_epoch == epoch + 1


def test_random_password_forces_change(accounts, citizen):
    person = accounts.get(citizen.person_id)
    password = accounts.issue_random_password(person)
    assert person.must_change_password
    assert accounts.check_password(person, password)
    assert not accounts.check_password(person, citizen.password)
