"""Races on one authority tree (R-42 acceptance): real concurrent transactions, one session
and connection per thread, started together by a barrier. On PostgreSQL (IDP_TEST_BACKEND=
postgres) these are concurrent READ COMMITTED transactions; on SQLite the writers serialise.

Each operation is slowed down between reading the tree and writing it (the rules are
checked, then the thread sleeps), so without the legal person's lock both threads would
read the same old tree and the rules would break; with it, the second re-reads after the
first commits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from idp.delegation import rules, service
from idp.delegation.errors import DelegationError
from idp.delegation.invariants import violations
from idp.delegation.service import Delegation
from tests.delegation.helpers import Tree, days, delegation

PAUSE = 0.3


@pytest.fixture(autouse=True)
def slow_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen the read-then-write window of every operation."""
    check, subtree = rules.check, service.subtree

    def slow_check(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = check(*args, **kwargs)
        time.sleep(PAUSE)
        return result

    def slow_subtree(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = subtree(*args, **kwargs)
        time.sleep(PAUSE)
        return result

    monkeypatch.setattr(rules, "check", slow_check)
    monkeypatch.setattr(service, "subtree", slow_subtree)


def race(tree: Tree, *ops: Callable[[Delegation], object]) -> list[object]:
    """Run each op in its own thread and transaction; return results or DelegationErrors."""
    barrier = threading.Barrier(len(ops))
    results: list[object] = [None] * len(ops)

    def run(i: int, op: Callable[[Delegation], object]) -> None:
        barrier.wait()
        try:
            with delegation(tree.platform) as d:
                results[i] = op(d)
        except DelegationError as exc:
            results[i] = exc
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, op)) for i, op in enumerate(ops)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    unexpected = [r for r in results if isinstance(r, Exception)
                  and not isinstance(r, DelegationError)]
    assert unexpected == []
    return results


def _to_d(tree: Tree, grantor: str, parent: str, item: str = "tax"):  # type: ignore[no-untyped-def]
    return lambda d: d.grant(tree.pid(grantor), tree.org_id, tree.pid("d"),
                             [("dept-a", item)], days(5), parent_grant_id=tree.grants[parent])


@pytest.mark.parametrize("pair", ["same-parent", "two-levels-same-chain"])
def test_two_grants_racing_for_the_last_level(tree: Tree, pair: str) -> None:
    """Two grants to the same person in one chain: exactly one wins (no overlap, no cycle)."""
    other = _to_d(tree, "b", "b") if pair == "same-parent" else _to_d(tree, "a", "a")
    results = race(tree, _to_d(tree, "b", "b"), other)
    errors = [r for r in results if isinstance(r, DelegationError)]
    assert len(errors) == 1 and errors[0].code == "duplicate"
    with tree.platform.db.session() as s:
        assert violations(s, tree.org_id) == []


def test_last_level_grant_racing_withdrawal_of_the_right(tree: Tree) -> None:
    results = race(tree, _to_d(tree, "b", "b"),
                   lambda d: d.change(tree.pid("a"), tree.grants["b"], may_redelegate=False))
    assert not isinstance(results[1], Exception)
    with tree.platform.db.session() as s:
        assert violations(s, tree.org_id) == []
        from idp.delegation.authority import authority_of

        assert authority_of(s, tree.pid("d"), tree.org_id, "dept-a") == []


@pytest.mark.parametrize("upper", ["cancel", "narrow-scope", "shorten-validity"])
def test_cancel_or_narrow_racing_a_redelegation(tree: Tree, upper: str) -> None:
    """Whichever commits first, no active grant is left outside its parent."""
    ops = {
        "cancel": lambda d: d.cancel(tree.pid("rep"), tree.grants["a"]),
        "narrow-scope": lambda d: d.change(tree.pid("rep"), tree.grants["a"],
                                           scope=[("dept-a", "licence")]),
        "shorten-validity": lambda d: d.change(tree.pid("rep"), tree.grants["a"],
                                               valid_until=days(2)),
    }
    results = race(tree, ops[upper], _to_d(tree, "b", "b"))
    assert not isinstance(results[0], Exception)
    with tree.platform.db.session() as s:
        assert violations(s, tree.org_id) == []
        from idp.delegation.authority import authority_of

        found = authority_of(s, tree.pid("d"), tree.org_id, "dept-a")
        if upper == "cancel":
            assert found == []
        elif upper == "narrow-scope":
            assert all(a.items == ("licence",) for a in found) and not any(
                "tax" in a.items for a in found)
        else:
            assert all(a.valid_until <= days(2) for a in found)  # type: ignore[operator]
