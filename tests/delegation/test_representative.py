"""Change of legal representative (R-21): review, keep/cancel, lapse at the deadline."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from idp.delegation.authority import authority_of
from idp.delegation.errors import DelegationError
from idp.delegation.models import Grant
from idp.delegation.representative import (
    change_representative,
    keep_grant,
    lapse_expired,
    pending_review,
)
from idp.delegation.tree import scope_of
from idp.orgs.models import LegalPerson
from idp.orgs.service import OrgError
from tests.delegation.helpers import Tree, days, delegation


def test_change_makes_new_representative_level_0(changed: Tree) -> None:
    with changed.platform.db.session() as s:
        assert s.get(LegalPerson, changed.org_id).representative_person_id == changed.pid("e")  # type: ignore[union-attr]
        assert [a.role for a in authority_of(s, changed.pid("e"), changed.org_id, "x")] \
            == ["representative"]
        assert authority_of(s, changed.pid("rep"), changed.org_id, "dept-a") == []


def test_previous_grants_listed_for_review_and_people_told(changed: Tree) -> None:
    with delegation(changed.platform) as d:
        listed = [g.id for g in pending_review(d, changed.org_id)]
    assert listed == [changed.grants["a"], changed.grants["d"]]
    texts = lambda n: [m.text for m in changed.platform.sms.messages(changed.phone(n))]  # noqa: E731
    assert any("2项授权" in t for t in texts("e"))
    assert any("不再是" in t for t in texts("rep"))
    assert any("须经新法定代表人确认" in t for t in texts("a"))


def test_unkept_grants_stop_at_deadline_and_lapse(changed: Tree) -> None:
    with delegation(changed.platform) as d:
        keep_grant(d, changed.pid("e"), changed.grants["d"])
    after = days(8)
    with changed.platform.db.session() as s:
        before_deadline = authority_of(s, changed.pid("c"), changed.org_id, "dept-a", days(6))
        assert before_deadline and before_deadline[0].valid_until <= days(7)
        for name in "abc":  # un-kept tree: nothing works after the deadline
            assert authority_of(s, changed.pid(name), changed.org_id, "dept-a", after) == []
        assert authority_of(s, changed.pid("d"), changed.org_id, "dept-b", after)
    with delegation(changed.platform) as d:
        lapsed = lapse_expired(d, at=after)
    assert {g.id for g in lapsed} == {changed.grants[n] for n in "abc"}
    with changed.platform.db.session() as s:
        statuses = {g.id: (g.status, g.end_reason) for g in s.scalars(select(Grant))}
    assert statuses[changed.grants["a"]] == ("lapsed", "review_expired")
    assert statuses[changed.grants["d"]] == ("active", None)
    with delegation(changed.platform) as d:
        assert lapse_expired(d, at=after) == []  # idempotent


def test_no_grant_carries_more_than_new_representative_keeps(changed: Tree) -> None:
    """After the deadline, every working authority descends from a kept grant."""
    with delegation(changed.platform) as d:
        keep_grant(d, changed.pid("e"), changed.grants["a"])
        d.change(changed.pid("e"), changed.grants["a"], scope=[("dept-a", "tax")])
        d.cancel(changed.pid("e"), changed.grants["d"])
    after = days(8)
    with changed.platform.db.session() as s:
        a = s.get(Grant, changed.grants["a"])
        kept = scope_of(a)  # type: ignore[arg-type]
        for name in "abcd":
            for client in ("dept-a", "dept-b"):
                for auth in authority_of(s, changed.pid(name), changed.org_id, client, after):
                    assert all(kept.covers(client, item) for item in auth.items)
                    assert auth.chain[0].person_id == changed.pid("e")
        assert a.grantor_person_id == changed.pid("e")  # type: ignore[union-attr]


@pytest.mark.parametrize(("actor", "grant", "at", "code"), [
    pytest.param("rep", "a", None, "not_authorised", id="previous-representative"),
    pytest.param("a", "a", None, "not_authorised", id="grantee"),
    pytest.param("e", "b", None, "not_under_review", id="level-2"),
    pytest.param("e", "a", "late", "not_under_review", id="after-deadline"),
])
def test_keep_refused(changed: Tree, actor, grant, at, code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DelegationError) as err, delegation(changed.platform) as d:
        if at == "late":
            d.clock = lambda: days(8)
        keep_grant(d, changed.pid(actor), changed.grants[grant])
    assert err.value.code == code


@pytest.mark.parametrize(("new", "deadline", "error"), [
    pytest.param("rep", 7, "same_representative", id="same-person"),
    pytest.param("e", -1, "invalid_deadline", id="deadline-past"),
    pytest.param("e", "naive", "invalid_deadline", id="deadline-naive"),
])
def test_change_representative_refused(tree: Tree, new, deadline, error) -> None:  # type: ignore[no-untyped-def]
    when = dt.datetime(2031, 1, 1) if deadline == "naive" else days(deadline)
    with pytest.raises((DelegationError, OrgError)) as err, delegation(tree.platform) as d:
        change_representative(d, tree.org_id, tree.pid(new), deadline=when, actor="t")
    assert err.value.code == error  # type: ignore[union-attr]
