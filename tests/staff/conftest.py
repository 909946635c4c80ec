"""Fixtures for the staff directory tests: the seeded real OpenLDAP and the local table."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from idp.platform import Platform
from idp.staff.directory import Role, StaffDirectory
from idp.staff.ldap import LdapConfig, LdapDirectory
from idp.staff.local import LocalDirectory, create_local_staff
from idp.staff.roles import RoleMap
from tests.staff.ldap_seed import role_map_json, seed_local, seeded_directory

BREAKGLASS_USER = "breakglass"
BREAKGLASS_PASSWORD = "Break-Glass-Passw0rd-2024"


@pytest.fixture(scope="session")
def ldap_config() -> Iterator[LdapConfig]:
    """The real test slapd, seeded once per session under a unique ou."""
    with seeded_directory() as config:
        yield config


@pytest.fixture
def role_map(ldap_config: LdapConfig) -> RoleMap:
    return RoleMap.parse(role_map_json(ldap_config.group_base))


@pytest.fixture
def ldap_directory(ldap_config: LdapConfig, role_map: RoleMap) -> LdapDirectory:
    return LdapDirectory(ldap_config, role_map)


@pytest.fixture
def local_directory(platform: Platform) -> LocalDirectory:
    with platform.db.session() as session:
        seed_local(session, platform.hasher)
    return LocalDirectory(platform.db, platform.hasher)


@pytest.fixture(params=["ldap", "local"])
def directory(request: pytest.FixtureRequest) -> StaffDirectory:
    """Each behavioural test runs against both implementations of the port."""
    return request.getfixturevalue(f"{request.param}_directory")  # type: ignore[no-any-return]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (kernel backlog) but never answers: a hung directory."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


@pytest.fixture
def breakglass(platform: Platform) -> str:
    """The local break-glass administrator; returns its username."""
    with platform.db.session() as session:
        create_local_staff(session, platform.hasher, username=BREAKGLASS_USER,
                           password=BREAKGLASS_PASSWORD, display_name="应急管理员",
                           roles=[Role.PLATFORM_ADMIN.value], breakglass=True)
    return BREAKGLASS_USER
