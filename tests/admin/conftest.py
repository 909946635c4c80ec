"""Console fixtures: the real test slapd (tests/staff), a break-glass account, and the
counter's authority simulator and clerk (tests/admin/counter_world.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from idp.platform import Platform
from idp.staff.ldap import LdapConfig
from tests.admin.counter_world import Counter
from tests.admin.helpers import ldap_settings
from tests.registration.conftest import simulator  # noqa: F401
from tests.simulator.server import CLIENT_ID, KEY, Running
from tests.staff.conftest import breakglass, closed_port, ldap_config  # noqa: F401
from tests.staff.ldap_seed import role_map_json


@pytest.fixture
def counter_authorities(simulator: Running) -> Iterator[Running]:  # noqa: F811
    """For a counter module (``pytestmark = pytest.mark.usefixtures("counter_authorities")``):
    the population registry is the bundled simulator, answering "ok" unless a test says
    otherwise, and the staff directory is the embedded local one (`settings_overrides`)."""
    simulator.sim.modes.set("all", "ok")
    yield simulator
    simulator.sim.modes.set("all", "ok")


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """By default the console reads the seeded OpenLDAP; counter modules talk to the
    simulator; modules may override."""
    if "counter_authorities" in request.fixturenames:
        simulator = request.getfixturevalue("simulator")
        return {"authority_url": simulator.url, "authority_client_id": CLIENT_ID,
                "authority_key": KEY, "authority_read_timeout_ms": 2000}
    config: LdapConfig = request.getfixturevalue("ldap_config")
    return ldap_settings(config, role_map_json(config.group_base))


@pytest.fixture
def clerk(app: Flask, platform: Platform) -> Counter:
    """A clerk (``clerk1``) at the counter, with an API token."""
    return Counter(app.test_client(), platform, "clerk1")
