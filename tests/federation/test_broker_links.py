"""Federated account links on both sides of a brokered login (idp/federation/links.py)."""

from __future__ import annotations

import pytest

from idp.accounts.models import Channel
from idp.accounts.service import Accounts
from idp.federation import links

HOME = "http://city-a1.test"
CLAIMS = {"id_type": "resident_id", "id_number": "350203199001011234", "name": "林小明",
          "phone_number": "+8613900139000"}


def _link(platform, **overrides):  # type: ignore[no-untyped-def]
    values = dict(home_issuer=HOME, home_sub="sub-1", home_entity_id=HOME, level=3,
                  claims=CLAIMS)
    values.update(overrides)
    with platform.db.session() as session:
        person = links.link_account(session, protector=platform.protector, **values)
        return person.id


def test_link_creates_a_passwordless_person_with_encrypted_claims(platform) -> None:  # type: ignore[no-untyped-def]
    person_id = _link(platform)
    with platform.db.session() as session:
        accounts = Accounts(session, platform.protector, platform.hasher)
        person = accounts.get(person_id)
        assert person.password_hash is None
        assert person.channel == Channel.FEDERATED.value
        assert person.realname_level == 3
        assert accounts.name(person) == "林小明"
        assert accounts.phone(person) == "13900139000"
        assert "350203199001011234" not in person.id_number_enc  # encrypted at rest
        assert accounts.by_document("350203199001011234").id == person_id
        assert links.find_linked(session, HOME + "/", "sub-1").id == person_id
        assert links.find_linked(session, HOME, "other") is None
        link = links.account_of(session, person_id)
        assert (link.home_issuer, link.home_sub, link.home_level) == (HOME, "sub-1", 3)


def test_second_login_refreshes_the_same_person(platform) -> None:  # type: ignore[no-untyped-def]
    first = _link(platform)
    again = _link(platform, level=2, claims={**CLAIMS, "name": "林晓明"})
    assert again == first
    with platform.db.session() as session:
        accounts = Accounts(session, platform.protector, platform.hasher)
        person = accounts.get(first)
        assert (accounts.name(person), person.realname_level) == ("林晓明", 2)
        assert links.account_of(session, first).home_level == 2


def test_a_phone_bound_locally_is_not_taken_over(platform, make_citizen) -> None:  # type: ignore[no-untyped-def]
    make_citizen(phone="13900139000")
    person_id = _link(platform)
    with platform.db.session() as session:
        assert links.account_of(session, person_id) is not None
        assert Accounts(session, platform.protector, platform.hasher).get(
            person_id).phone_enc is None


@pytest.mark.parametrize("claims", [
    {},
    {"id_type": "resident_id", "name": "林小明"},
    {"id_type": "resident_id", "id_number": " ", "name": "林小明"},
    {"id_type": "resident_id", "id_number": "350203199001011234"},
    {"id_type": "driving_licence", "id_number": "350203199001011234", "name": "林小明"},
    {"id_type": 7, "id_number": "350203199001011234", "name": "林小明"},
])
def test_incomplete_home_claims_create_nothing(platform, claims) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(links.LinkConflict), platform.db.session() as session:
        links.link_account(session, home_issuer=HOME, home_sub="s", home_entity_id=HOME,
                           level=1, claims=claims, protector=platform.protector)
    with platform.db.session() as session:
        assert links.find_linked(session, HOME, "s") is None


def test_a_local_account_with_the_same_document_is_not_linked(platform, citizen) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(links.LinkConflict), platform.db.session() as session:
        links.link_account(session, home_issuer=HOME, home_sub="s", home_entity_id=HOME,
                           level=1, protector=platform.protector,
                           claims={**CLAIMS, "id_number": citizen.id_number})


def test_subscribers_are_recorded_once_per_node(platform, citizen) -> None:  # type: ignore[no-untyped-def]
    with platform.db.session() as session:
        links.record_subscriber(session, citizen.person_id, "http://prov-b.test/", "pw-1")
        links.record_subscriber(session, citizen.person_id, "http://prov-b.test", "pw-1")
        links.record_subscriber(session, citizen.person_id, "http://prov-c.test", "pw-2")
    with platform.db.session() as session:
        rows = links.subscribers_of(session, citizen.person_id)
        assert [(r.node_entity_id, r.subject) for r in rows] == [
            ("http://prov-b.test", "pw-1"), ("http://prov-c.test", "pw-2")]
        assert links.subscribers_of(session, citizen.person_id + 1000) == []
