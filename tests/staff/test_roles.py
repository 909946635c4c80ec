"""The group → role map setting (IDP_LDAP_ROLE_MAP)."""

from __future__ import annotations

import pytest

from idp.staff.directory import Role
from idp.staff.roles import Group, RoleMap, RoleMapError

CLERKS = Group("cn=hall-clerks,ou=groups,dc=gov,dc=cn", "hall-clerks")
HEADS = Group("cn=heads,ou=groups,dc=gov,dc=cn", "heads")
OTHER = Group("cn=canteen,ou=groups,dc=gov,dc=cn", "canteen")


@pytest.mark.parametrize(("text", "groups", "roles"), [
    ("", [Group("cn=clerk,ou=g", "clerk"), Group("cn=auditor,ou=g", "auditor")],
     {Role.CLERK, Role.AUDITOR}),
    ("", [CLERKS], set()),
    ("hall-clerks=clerk; heads=department_head", [CLERKS, HEADS, OTHER],
     {Role.CLERK, Role.DEPARTMENT_HEAD}),
    ("HALL-CLERKS=clerk, hall-clerks=manager", [CLERKS], {Role.CLERK, Role.MANAGER}),
    ('{"hall-clerks": ["clerk", "manager"]}', [CLERKS], {Role.CLERK, Role.MANAGER}),
    ('{"CN=Heads, OU=Groups, DC=gov, DC=cn": "department_head"}', [HEADS],
     {Role.DEPARTMENT_HEAD}),
    ('{"cn=heads,ou=other,dc=gov,dc=cn": "department_head"}', [HEADS], set()),
    ("hall-clerks=clerk", [OTHER], set()),
])
def test_groups_grant_mapped_roles(text: str, groups: list[Group], roles: set[Role]) -> None:
    assert RoleMap.parse(text).roles_for(groups) == frozenset(roles)


@pytest.mark.parametrize(("text", "message"), [
    ("hall-clerks=janitor", "unknown role"),
    ('{"hall-clerks": "root"}', "unknown role"),
    ('{"hall-clerks": []}', "a role or a list"),
    ('{"hall-clerks": 3}', "a role or a list"),
    ("{not json", "not valid JSON"),
    ('["clerk"]', "must be an object"),
    ("hall-clerks", "not cn=role"),
    ("=clerk", "not cn=role"),
])
def test_bad_role_map_is_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(RoleMapError, match=message):
        RoleMap.parse(text)
