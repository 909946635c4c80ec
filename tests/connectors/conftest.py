"""Connector fixtures: the demo as real processes (platform + two relying parties)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import DemoStack, start_demo


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    stack = start_demo(tmp_path_factory.mktemp("demo-var"))
    try:
        yield stack
    finally:
        stack.stop()
