"""Fixtures: a four-node federation (national; province A with city A1; province B)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.federation.harness import Federation


def build_federation(root, **national_overrides) -> Federation:  # type: ignore[no-untyped-def]
    fed = Federation(root)
    fed.add("national", "national", "000000", **national_overrides)
    fed.add("prov-a", "province", "350000", parent="national")
    fed.add("city-a1", "city", "350200", parent="prov-a")
    fed.add("prov-b", "province", "440000", parent="national")
    fed.vouch("national", "prov-a")
    fed.vouch("prov-a", "city-a1")
    fed.vouch("national", "prov-b")
    return fed


@pytest.fixture
def national_overrides() -> dict:  # type: ignore[type-arg]
    return {}


@pytest.fixture
def fed(tmp_path, national_overrides) -> Iterator[Federation]:  # type: ignore[no-untyped-def]
    federation = build_federation(tmp_path, **national_overrides)
    yield federation
    federation.close()
