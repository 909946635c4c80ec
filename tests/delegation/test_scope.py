"""Scope algebra (pure): normalising, covering, subsets, intersection."""

from __future__ import annotations

import pytest

from idp.delegation.errors import DelegationError
from idp.delegation.scope import Scope

S = Scope.of


@pytest.mark.parametrize(("a", "b", "within"), [
    pytest.param([("c1", "x")], [("c1", "*")], True, id="item-in-whole"),
    pytest.param([("c1", "*")], [("c1", "x")], False, id="whole-not-in-item"),
    pytest.param([("c1", "x"), ("c2", "y")], [("c1", "*")], False, id="other-client"),
    pytest.param([("c1", "x")], [("c1", "x"), ("c1", "y")], True, id="subset"),
])
def test_within(a, b, within) -> None:  # type: ignore[no-untyped-def]
    assert S(a).within(S(b)) is within


@pytest.mark.parametrize(("a", "b", "pairs"), [
    pytest.param([("c1", "*")], [("c1", "x")], [("c1", "x")], id="whole-and-item"),
    pytest.param([("c1", "x"), ("c1", "y")], [("c1", "y")], [("c1", "y")], id="items"),
    pytest.param([("c1", "x")], [("c2", "x")], [], id="disjoint"),
    pytest.param([("c1", "*"), ("c2", "*")], [("c2", "*")], [("c2", "*")], id="clients"),
])
def test_intersect(a, b, pairs) -> None:  # type: ignore[no-untyped-def]
    assert S(a).intersect(S(b)).pairs() == pairs


def test_whole_client_folds_items() -> None:
    assert S([("c1", "x"), ("c1", "*")]).pairs() == [("c1", "*")]


@pytest.mark.parametrize("bad", [None, 5, [("c1", 1)], [("", "x")], [("c" * 65, "x")],
                                 [("c1", "a b")], [("c1", "x", "y")]])
def test_bad_scope_refused(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DelegationError) as err:
        S(bad)
    assert err.value.code == "invalid_scope"
