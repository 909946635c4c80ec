"""The R-42 rules for making a grant, as tables: each refused case leaves the tree as it was."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from idp.accounts.models import AccountStatus, Person
from idp.delegation.authority import authority_of
from idp.delegation.errors import DelegationError
from idp.delegation.invariants import violations
from idp.delegation.models import Grant
from tests.delegation.helpers import Tree, days, delegation

# (grantor, parent grant holder or None for level 1, grantee, scope, until in days, redelegate)
REFUSED = [
    pytest.param("c", "c", "d", [("dept-a", "tax")], 5, False, "level_exceeded",
                 id="fourth-level"),
    pytest.param("b", "b", "d", [("dept-a", "tax")], 5, True, "level_exceeded",
                 id="level-3-with-redelegation-right"),
    pytest.param("a", "a", "d", [("dept-c", "*")], 5, False, "scope_exceeds",
                 id="client-grantor-lacks"),
    pytest.param("a", "a", "d", [("dept-b", "*")], 5, False, "scope_exceeds",
                 id="whole-client-grantor-holds-one-item-of"),
    pytest.param("b", "b", "d", [("dept-b", "read")], 5, False, "scope_exceeds",
                 id="item-above-grantor-narrowed-away"),
    pytest.param("a", "a", "d", [("dept-a", "tax")], 31, False, "validity_exceeds",
                 id="beyond-grantor-validity"),
    pytest.param("a", "a", "a", [("dept-a", "tax")], 5, False, "self_grant", id="self-grant"),
    pytest.param("b", "b", "a", [("dept-a", "tax")], 5, False, "cycle", id="to-ancestor"),
    pytest.param("b", "b", "rep", [("dept-a", "tax")], 5, False, "cycle",
                 id="to-representative"),
    pytest.param("a", "a", "c", [("dept-a", "tax")], 5, False, "duplicate",
                 id="overlapping-grant-in-same-chain"),
    pytest.param("rep", None, "a", [("dept-a", "x")], 5, False, "duplicate",
                 id="overlapping-level-1"),
    pytest.param("d", None, "e", [("dept-a", "tax")], 5, False, "not_authorised",
                 id="level-1-not-by-representative"),
    pytest.param("d", "a", "e", [("dept-a", "tax")], 5, False, "not_authorised",
                 id="parent-not-held-by-grantor"),
    pytest.param("a", "a", "d", [], 5, False, "empty_scope", id="empty-scope"),
    pytest.param("a", "a", "d", [("dept a", "x")], 5, False, "invalid_scope",
                 id="space-in-client"),
    pytest.param("a", "a", "d", [("dept-a", "")], 5, False, "invalid_scope", id="empty-item"),
    pytest.param("a", "a", "d", "dept-a", 5, False, "invalid_scope", id="string-not-pairs"),
    pytest.param("a", "a", "d", [("dept-a",)], 5, False, "invalid_scope", id="one-tuple"),
    pytest.param("a", "a", "d", [("dept-a", "tax")], -1, False, "invalid_validity",
                 id="already-over"),
]


def _count(tree: Tree) -> int:
    with tree.platform.db.session() as s:
        return s.scalar(select(func.count()).select_from(Grant)) or 0


@pytest.mark.parametrize(("grantor", "holder", "grantee", "scope", "until", "redelegate",
                          "code"), REFUSED)
def test_grant_refused(tree: Tree, grantor, holder, grantee, scope, until, redelegate,
                       code) -> None:  # type: ignore[no-untyped-def]
    before = _count(tree)
    with pytest.raises(DelegationError) as err, delegation(tree.platform) as d:
        d.grant(tree.pid(grantor), tree.org_id, tree.pid(grantee), scope, days(until),
                may_redelegate=redelegate,
                parent_grant_id=tree.grants[holder] if holder else None)
    assert err.value.code == code
    assert err.value.message and err.value.messages["en"]
    assert _count(tree) == before


def test_redelegation_without_right_refused(tree: Tree) -> None:
    with delegation(tree.platform) as d:
        e = d.grant(tree.pid("rep"), tree.org_id, tree.pid("e"), [("dept-a", "*")], days(9))
    with pytest.raises(DelegationError) as err, delegation(tree.platform) as d:
        d.grant(tree.pid("e"), tree.org_id, tree.pid("d"), [("dept-a", "tax")], days(5),
                parent_grant_id=e.id)
    assert err.value.code == "redelegation_not_allowed"


@pytest.mark.parametrize(("kwargs", "code"), [
    pytest.param({"valid_from": dt.datetime(2030, 1, 1)}, "invalid_validity", id="naive"),
    pytest.param({"valid_from": days(6)}, "invalid_validity", id="from-after-until"),
    pytest.param({"valid_from": days(-400)}, "validity_exceeds", id="from-before-grantor"),
    pytest.param({"parent_grant_id": 999_999}, "grant_not_found", id="unknown-parent"),
    pytest.param({"parent_grant_id": "1"}, "grant_not_found", id="parent-id-as-text"),
])
def test_grant_bad_input(tree: Tree, kwargs, code) -> None:  # type: ignore[no-untyped-def]
    args = {"parent_grant_id": tree.grants["a"], **kwargs}
    with pytest.raises(DelegationError) as err, delegation(tree.platform) as d:
        d.grant(tree.pid("a"), tree.org_id, tree.pid("d"), [("dept-a", "tax")], days(5),
                **args)
    assert err.value.code == code


def test_grant_for_unknown_org_refused(tree: Tree) -> None:
    with pytest.raises(DelegationError) as err, delegation(tree.platform) as d:
        d.grant(tree.pid("rep"), 424242, tree.pid("d"), [("dept-a", "tax")], days(5))
    assert err.value.code == "org_not_found"


@pytest.mark.parametrize("who", ["grantee", "grantor"])
def test_grant_with_inactive_person_refused(tree: Tree, who: str) -> None:
    person = "d" if who == "grantee" else "a"
    with tree.platform.db.session() as s:
        s.get(Person, tree.pid(person)).status = AccountStatus.BANNED.value  # type: ignore[union-attr]
    with pytest.raises(DelegationError) as err, delegation(tree.platform) as d:
        d.grant(tree.pid("a"), tree.org_id, tree.pid("d"), [("dept-a", "tax")], days(5),
                parent_grant_id=tree.grants["a"])
    assert err.value.code == "person_inactive"


def test_three_levels_allowed_and_tree_sound(tree: Tree) -> None:
    with tree.platform.db.session() as s:
        levels = {g.grantee_person_id: g.level for g in s.scalars(select(Grant))}
        assert levels == {tree.pid("a"): 1, tree.pid("b"): 2, tree.pid("c"): 3}
        assert violations(s, tree.org_id) == []


def test_same_person_may_hold_grants_in_different_chains(tree: Tree) -> None:
    with delegation(tree.platform) as d:
        e = d.grant(tree.pid("rep"), tree.org_id, tree.pid("e"), [("dept-a", "*")], days(9),
                    may_redelegate=True)
        d.grant(tree.pid("e"), tree.org_id, tree.pid("c"), [("dept-a", "tax")], days(5),
                parent_grant_id=e.id)
    with tree.platform.db.session() as s:
        found = authority_of(s, tree.pid("c"), tree.org_id, "dept-a")
        assert [a.level for a in found] == [2, 3]
        assert violations(s, tree.org_id) == []
