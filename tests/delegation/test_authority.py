"""authority_of / grants_for_client: effective scope, validity, chain; bans stop authority."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.accounts.models import AccountStatus, Person
from idp.delegation.authority import authority_of, grants_for_client
from idp.delegation.bans import on_person_banned, on_person_unbanned
from idp.delegation.models import Grant
from idp.orgs.service import Orgs
from tests.delegation.helpers import Tree, days, delegation


def test_authority_is_intersection_min_validity_and_chain(tree: Tree) -> None:
    with delegation(tree.platform) as d:  # b is shortened below a; c ends first anyway
        d.change(tree.pid("rep"), tree.grants["a"], scope=[("dept-a", "licence"),
                                                          ("dept-b", "read")])
    with tree.platform.db.session() as s:
        [auth] = authority_of(s, tree.pid("c"), tree.org_id, "dept-a")
        c_until = s.get(Grant, tree.grants["c"]).valid_until  # type: ignore[union-attr]
    assert auth.role == "delegate" and auth.level == 3
    assert auth.items == ("licence",)  # {licence,tax} ∩ {*} ∩ {licence}
    assert auth.valid_until == c_until
    assert [link.person_id for link in auth.chain] == [tree.pid(n) for n in
                                                       ("rep", "a", "b", "c")]
    assert [link.grant_id for link in auth.chain] == [None, *[tree.grants[n] for n in "abc"]]
    assert auth.credit_code == "91350100M000100Y43" and auth.kind == "enterprise"


@pytest.mark.parametrize(("person", "client", "at_days", "expected"), [
    pytest.param("rep", "dept-z", 0, [("representative", ("*",))], id="representative-any"),
    pytest.param("a", "dept-b", 0, [("delegate", ("read",))], id="level-1-item"),
    pytest.param("b", "dept-b", 0, [], id="client-not-covered"),
    pytest.param("c", "dept-a", 11, [], id="expired"),
    pytest.param("b", "dept-a", 15, [("delegate", ("*",))], id="still-valid"),
    pytest.param("d", "dept-a", 0, [], id="stranger"),
])
def test_authority_table(tree: Tree, person, client, at_days, expected) -> None:  # type: ignore[no-untyped-def]
    at = days(at_days) if at_days else None
    with tree.platform.db.session() as s:
        found = authority_of(s, tree.pid(person), tree.org_id, client, at)
    assert [(a.role, a.items) for a in found] == expected


def test_grants_for_client_lists_only_covering_orgs(tree: Tree) -> None:
    with tree.platform.db.session() as s:
        assert [a.credit_code for a in grants_for_client(s, tree.pid("c"), "dept-a")] \
            == ["91350100M000100Y43"]
        assert grants_for_client(s, tree.pid("c"), "dept-b") == []
        assert [a.role for a in grants_for_client(s, tree.pid("rep"), "dept-b")] \
            == ["representative"]


def test_suspended_org_gives_no_authority(tree: Tree) -> None:
    with tree.platform.db.session() as s:
        orgs = Orgs(s)
        orgs.set_status(orgs.get(tree.org_id), "suspended", actor="staff:test")
    with tree.platform.db.session() as s:
        for name in ("rep", "a", "c"):
            assert authority_of(s, tree.pid(name), tree.org_id, "dept-a") == []


def _ban(tree: Tree, name: str, status: AccountStatus) -> None:
    with delegation(tree.platform) as d:
        d.session.get(Person, tree.pid(name)).status = status.value  # type: ignore[union-attr]
        hook = on_person_banned if status is AccountStatus.BANNED else on_person_unbanned
        hook(d, tree.pid(name), actor="staff:test")


@pytest.mark.parametrize(("banned", "dead", "alive", "told"), [
    pytest.param("a", "abc", "", "bc", id="level-1-grantee"),
    pytest.param("b", "bc", "a", "c", id="level-2-grantee"),
    pytest.param("rep", "abc", "", "abc", id="representative"),
])
def test_banned_person_grants_stop_and_grantees_told(tree: Tree, banned, dead, alive,
                                                     told) -> None:  # type: ignore[no-untyped-def]
    _ban(tree, banned, AccountStatus.BANNED)
    with tree.platform.db.session() as s:
        for name in dead:
            assert authority_of(s, tree.pid(name), tree.org_id, "dept-a") == [], name
        for name in alive:
            assert authority_of(s, tree.pid(name), tree.org_id, "dept-a") != [], name
    for name in told:
        texts = [m.text for m in tree.platform.sms.messages(tree.phone(name))]  # type: ignore[attr-defined]
        assert any("暂停" in t for t in texts), name
    _ban(tree, banned, AccountStatus.ACTIVE)  # lifting the ban restores them
    with tree.platform.db.session() as s:
        assert authority_of(s, tree.pid("c"), tree.org_id, "dept-a") != []


def test_future_grant_not_yet_in_force(tree: Tree) -> None:
    with delegation(tree.platform) as d:
        d.grant(tree.pid("rep"), tree.org_id, tree.pid("d"), [("dept-c", "*")], days(9),
                valid_from=days(2))
    with tree.platform.db.session() as s:
        assert authority_of(s, tree.pid("d"), tree.org_id, "dept-c") == []
        assert authority_of(s, tree.pid("d"), tree.org_id, "dept-c",
                            days(3))[0].valid_until < days(9) + dt.timedelta(seconds=1)
