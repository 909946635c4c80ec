"""Console fixtures: the real test slapd (tests/staff) and a break-glass account."""

from __future__ import annotations

from typing import Any

import pytest

from idp.staff.ldap import LdapConfig
from tests.admin.helpers import ldap_settings
from tests.staff.conftest import breakglass, closed_port, ldap_config  # noqa: F401
from tests.staff.ldap_seed import role_map_json


@pytest.fixture
def settings_overrides(ldap_config: LdapConfig) -> dict[str, Any]:  # noqa: F811
    """By default the console reads the seeded OpenLDAP; modules may override."""
    return ldap_settings(ldap_config, role_map_json(ldap_config.group_base))
