from __future__ import annotations

import pytest

from idp.delegation.representative import change_representative
from tests.delegation.helpers import Tree, build_tree, days, delegation


@pytest.fixture
def tree(platform, make_citizen) -> Tree:  # type: ignore[no-untyped-def]
    return build_tree(platform, make_citizen)


@pytest.fixture
def changed(tree: Tree) -> Tree:
    """rep → e becomes representative (review for 7 days); besides a's tree, rep also
    granted d directly."""
    with delegation(tree.platform) as d:
        tree.grants["d"] = d.grant(tree.pid("rep"), tree.org_id, tree.pid("d"),
                                   [("dept-b", "*")], days(60)).id
    with delegation(tree.platform) as d:
        change_representative(d, tree.org_id, tree.pid("e"), deadline=days(7),
                              actor="person:new-rep")
    return tree
