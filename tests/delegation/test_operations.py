"""Change, cancel, apply/approve/refuse and view (R-42): cascades, bounds, notifications."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.audit.models import AuditRecord
from idp.delegation.authority import authority_of
from idp.delegation.errors import DelegationError
from idp.delegation.invariants import violations
from idp.delegation.models import Grant
from idp.delegation.tree import scope_of
from idp.delegation.view import view
from tests.delegation.helpers import Tree, days, delegation


def _grants(tree: Tree) -> dict[str, Grant]:
    with tree.platform.db.session() as s:
        by_id = {g.id: g for g in s.scalars(select(Grant))}
        for g in by_id.values():
            _ = g.scopes  # load before the session closes
        return {n: by_id[i] for n, i in tree.grants.items()}


def _texts(tree: Tree, name: str) -> list[str]:
    return [m.text for m in tree.platform.sms.messages(tree.phone(name))]  # type: ignore[attr-defined]


def test_cancel_level_1_ends_levels_2_and_3_at_once(tree: Tree) -> None:
    with delegation(tree.platform) as d:
        ended = d.cancel(tree.pid("rep"), tree.grants["a"])
    assert {g.id for g in ended} == set(tree.grants.values())
    grants = _grants(tree)
    assert {g.status for g in grants.values()} == {"cancelled"}
    assert len({g.ended_at for g in grants.values()}) == 1  # one instant
    assert grants["b"].end_reason == "ancestor_cancelled"
    with tree.platform.db.session() as s:
        for name in "abc":
            assert authority_of(s, tree.pid(name), tree.org_id, "dept-a") == []
    for name in "abc":
        assert any("撤销" in t for t in _texts(tree, name))


@pytest.mark.parametrize(("change", "expect_b", "expect_c"), [
    pytest.param({"scope": [("dept-a", "tax"), ("dept-b", "read")]},
                 [("dept-a", "tax")], [("dept-a", "tax")], id="scope-narrowed"),
    pytest.param({"scope": [("dept-b", "read")]}, "cancelled", "cancelled",
                 id="scope-leaves-nothing"),
    pytest.param({"valid_until": days(5)}, "until<=5", "until<=5", id="validity-shortened"),
    pytest.param({"may_redelegate": False}, "cancelled", "cancelled",
                 id="redelegation-withdrawn"),
])
def test_narrowing_cascades_at_once(tree: Tree, change, expect_b, expect_c) -> None:  # type: ignore[no-untyped-def]
    with delegation(tree.platform) as d:
        d.change(tree.pid("rep"), tree.grants["a"], **change)
    grants = _grants(tree)
    for name, expected in (("b", expect_b), ("c", expect_c)):
        grant = grants[name]
        if expected == "cancelled":
            assert grant.status == "cancelled"
        elif expected == "until<=5":
            assert grant.status == "active" and grant.valid_until <= grants["a"].valid_until
        else:
            assert grant.status == "active" and scope_of(grant).pairs() == expected
        assert any("变更" in t for t in _texts(tree, name))
    with tree.platform.db.session() as s:
        assert violations(s, tree.org_id) == []


@pytest.mark.parametrize(("change", "code"), [
    pytest.param({"scope": [("dept-a", "*"), ("dept-b", "*")]}, "scope_exceeds",
                 id="scope-beyond-grantor"),
    pytest.param({"valid_until": days(40)}, "validity_exceeds", id="validity-beyond-grantor"),
    pytest.param({"valid_until": days(-1)}, "invalid_validity", id="end-in-past"),
    pytest.param({"scope": []}, "empty_scope", id="empty-scope"),
])
def test_widening_beyond_grantor_refused(tree: Tree, change, code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DelegationError) as err, delegation(tree.platform) as d:
        d.change(tree.pid("a"), tree.grants["b"], **change)
    assert err.value.code == code
    assert scope_of(_grants(tree)["b"]).pairs() == [("dept-a", "*")]


def test_widening_within_grantor_allowed(tree: Tree) -> None:
    with delegation(tree.platform) as d:
        d.change(tree.pid("a"), tree.grants["b"],
                 scope=[("dept-a", "*"), ("dept-b", "read")], valid_until=days(29))
    assert scope_of(_grants(tree)["b"]).pairs() == [("dept-a", "*"), ("dept-b", "read")]


@pytest.mark.parametrize(("actor", "op", "code"), [
    pytest.param("c", "change", "not_authorised", id="grantee-cannot-change-own"),
    pytest.param("d", "change", "not_authorised", id="stranger-change"),
    pytest.param("d", "cancel", "not_authorised", id="stranger-cancel"),
    pytest.param("c", "cancel-b", "not_authorised", id="below-cannot-cancel-above"),
])
def test_change_cancel_authorisation(tree: Tree, actor, op, code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DelegationError) as err, delegation(tree.platform) as d:
        if op == "change":
            d.change(tree.pid(actor), tree.grants["c"], scope=[("dept-a", "tax")])
        else:
            d.cancel(tree.pid(actor), tree.grants["b" if op == "cancel-b" else "c"])
    assert err.value.code == code


def test_representative_and_ancestors_may_cancel_deep_grant(tree: Tree) -> None:
    with delegation(tree.platform) as d:
        d.cancel(tree.pid("a"), tree.grants["c"])
    assert _grants(tree)["c"].status == "cancelled"
    assert _grants(tree)["b"].status == "active"


def test_grantee_may_renounce(tree: Tree) -> None:
    with delegation(tree.platform) as d:
        d.cancel(tree.pid("b"), tree.grants["b"])
    grants = _grants(tree)
    assert (grants["b"].end_reason, grants["c"].status) == ("renounced", "cancelled")


def test_cancel_twice_refused(tree: Tree) -> None:
    with delegation(tree.platform) as d:
        d.cancel(tree.pid("rep"), tree.grants["c"])
    with pytest.raises(DelegationError) as err, delegation(tree.platform) as d:
        d.cancel(tree.pid("rep"), tree.grants["c"])
    assert err.value.code == "grant_not_active"


def test_apply_then_approve(tree: Tree) -> None:
    with delegation(tree.platform) as d:
        app = d.apply(tree.pid("d"), tree.org_id, [("dept-b", "read")], days(7),
                      parent_grant_id=tree.grants["a"])
    assert app.status == "pending" and app.grantor_person_id == tree.pid("a")
    assert any("申请" in t for t in _texts(tree, "a"))
    with tree.platform.db.session() as s:
        assert authority_of(s, tree.pid("d"), tree.org_id, "dept-b") == []
    with delegation(tree.platform) as d:
        approved = d.approve(tree.pid("a"), app.id)
    assert (approved.status, approved.level) == ("active", 2)
    assert any("已获授权" in t for t in _texts(tree, "d"))
    with tree.platform.db.session() as s:
        [auth] = authority_of(s, tree.pid("d"), tree.org_id, "dept-b")
        assert auth.items == ("read",)


def test_apply_then_refuse(tree: Tree) -> None:
    with delegation(tree.platform) as d:
        app = d.apply(tree.pid("d"), tree.org_id, [("dept-a", "*")], days(7))
    assert app.grantor_person_id == tree.pid("rep")
    with delegation(tree.platform) as d:
        refused = d.refuse(tree.pid("rep"), app.id)
    assert refused.status == "refused"
    assert any("未获批准" in t for t in _texts(tree, "d"))
    with pytest.raises(DelegationError) as err, delegation(tree.platform) as d:
        d.approve(tree.pid("rep"), app.id)
    assert err.value.code == "not_pending"


@pytest.mark.parametrize(("setup", "approver", "code"), [
    pytest.param(None, "b", "not_authorised", id="not-the-grantor"),
    pytest.param("narrow-parent", "a", "scope_exceeds", id="parent-narrowed-meanwhile"),
    pytest.param("cancel-parent", "a", "not_pending", id="parent-cancel-cancels-application"),
])
def test_approve_rechecks_rules(tree: Tree, setup, approver, code) -> None:  # type: ignore[no-untyped-def]
    with delegation(tree.platform) as d:
        app = d.apply(tree.pid("d"), tree.org_id, [("dept-b", "read")], days(7),
                      parent_grant_id=tree.grants["a"])
    with delegation(tree.platform) as d:
        if setup == "narrow-parent":
            d.change(tree.pid("rep"), tree.grants["a"], scope=[("dept-a", "*")])
        elif setup == "cancel-parent":
            d.cancel(tree.pid("rep"), tree.grants["a"])
    with pytest.raises(DelegationError) as err, delegation(tree.platform) as d:
        d.approve(tree.pid(approver), app.id)
    assert err.value.code == code


def test_apply_is_checked_like_a_grant(tree: Tree) -> None:
    with pytest.raises(DelegationError) as err, delegation(tree.platform) as d:
        d.apply(tree.pid("d"), tree.org_id, [("dept-a", "tax")], days(5),
                parent_grant_id=tree.grants["c"])
    assert err.value.code == "level_exceeded"


def test_view_representative_sees_whole_tree(tree: Tree) -> None:
    with tree.platform.db.session() as s:
        seen = view(s, tree.pid("rep"), tree.org_id)
    assert seen.role == "representative"
    assert [g.id for g in seen.tree] == [tree.grants[n] for n in "abc"]
    assert [g.id for g in seen.given] == [tree.grants["a"]]


def test_view_grantee_sees_held_and_given_only(tree: Tree) -> None:
    with tree.platform.db.session() as s:
        seen = view(s, tree.pid("b"), tree.org_id)
        stranger = view(s, tree.pid("d"), tree.org_id)
    assert (seen.role, seen.tree) == ("delegate", ())
    assert [g.id for g in seen.held] == [tree.grants["b"]]
    assert [g.id for g in seen.given] == [tree.grants["c"]]
    assert seen.held[0].grantee_sub == tree.people["b"].sub  # type: ignore[attr-defined]
    assert (stranger.role, stranger.held, stranger.given) == ("none", (), ())


def test_operations_audited_with_person_actor(tree: Tree) -> None:
    with delegation(tree.platform) as d:
        d.change(tree.pid("a"), tree.grants["b"], scope=[("dept-a", "tax")])
    with tree.platform.db.session() as s:
        rows = s.scalars(select(AuditRecord).where(AuditRecord.action.like("delegation:%"))
                         .order_by(AuditRecord.seq)).all()
    actions = [r.action for r in rows]
    assert actions == ["delegation:grant"] * 3 + ["delegation:change"]
    assert rows[-1].actor == f"person:{tree.people['a'].sub}"  # type: ignore[attr-defined]
    assert rows[-1].target == f"grant:{tree.grants['b']}"
    assert tree.phone("b") not in str(rows[-1].details)


def test_no_sms_when_rolled_back(tree: Tree) -> None:
    before = _texts(tree, "d")
    with pytest.raises(RuntimeError), delegation(tree.platform) as d:
        d.grant(tree.pid("a"), tree.org_id, tree.pid("d"), [("dept-a", "tax")], days(5),
                parent_grant_id=tree.grants["a"])
        raise RuntimeError("the caller failed after the grant")
    assert _texts(tree, "d") == before
    with tree.platform.db.session() as s:
        assert authority_of(s, tree.pid("d"), tree.org_id, "dept-a") == []
