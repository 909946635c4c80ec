from __future__ import annotations

import pytest

from tests.delegation.helpers import Tree, build_tree


@pytest.fixture
def tree(platform, make_citizen) -> Tree:  # type: ignore[no-untyped-def]
    return build_tree(platform, make_citizen)
