"""The login lookups by document number and phone, over prebuilt statements (R-30, R-63;
bench/README.md round 6): the same answers as the selects they replace."""

from __future__ import annotations

from idp.accounts.service import Accounts


def _accounts(platform, session):  # type: ignore[no-untyped-def]
    return Accounts(session, platform.protector, platform.hasher)


def test_document_with_and_without_type(platform, citizen):
    with platform.db.session() as s:
        accounts = _accounts(platform, s)
        assert accounts.by_document(citizen.id_number).id == citizen.person_id
        assert accounts.by_document(f" {citizen.id_number.lower()} ").id == citizen.person_id
        assert accounts.by_document(citizen.id_number, "resident_id").id == citizen.person_id
        assert accounts.by_document(citizen.id_number, "passport") is None
        assert accounts.by_document("110105194912310037") is None


def test_one_number_under_two_types_needs_the_type(platform, make_citizen):
    """Without a type only an unambiguous match counts (the LIMIT 2 of the statement)."""
    first = make_citizen(id_type="passport", id_number="E12345678", phone="13800138001")
    second = make_citizen(id_type="hkmo_permit", id_number="E12345678", phone="13800138002")
    with platform.db.session() as s:
        accounts = _accounts(platform, s)
        assert accounts.by_document("E12345678") is None
        assert accounts.by_document("E12345678", "passport").id == first.person_id
        assert accounts.by_document("E12345678", "hkmo_permit").id == second.person_id
        assert accounts.by_identifier("13800138002").id == second.person_id


def test_phone(platform, citizen):
    with platform.db.session() as s:
        accounts = _accounts(platform, s)
        assert accounts.by_phone(citizen.phone).id == citizen.person_id
        assert accounts.by_phone(f"+86 {citizen.phone}").id == citizen.person_id
        assert accounts.by_phone("13900000000") is None
        assert accounts.by_identifier(citizen.phone).id == citizen.person_id


def test_the_person_found_is_the_sessions_own(platform, citizen):
    """A login may rehash the password (`check_password`): the person must be attached to
    the session so the new hash is written with the commit."""
    with platform.db.session() as s:
        person = _accounts(platform, s).by_document(citizen.id_number)
        assert person in s and s.get(type(person), citizen.person_id) is person
