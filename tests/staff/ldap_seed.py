"""Seed the test OpenLDAP (scripts/services.sh) with staff and groups for one test session.

Everything lives under a unique ``ou=t<hex>`` below the base, so concurrent runs never see
each other's entries, and the subtree is deleted at the end. The same people are created in
the embedded local table by `seed_local` so both directories face the same tests.
"""

from __future__ import annotations

import os
import shlex
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from idp.passwords import PasswordHasher
from idp.staff.directory import Role
from idp.staff.ldap import LdapConfig
from idp.staff.local import create_local_staff

with warnings.catch_warnings():  # see idp/staff/ldap.py: ldap3 2.9 vs pyasn1 ≥ 0.6
    warnings.simplefilter("ignore", DeprecationWarning)
    import ldap3
    from ldap3.utils.hashed import hashed

ENV_FILE = Path(__file__).resolve().parents[2] / "var" / "services" / "env.sh"
ENV_NAMES = ("IDP_TEST_LDAP_URL", "IDP_TEST_LDAP_BASE_DN", "IDP_TEST_LDAP_BIND_DN",
             "IDP_TEST_LDAP_BIND_PASSWORD")


@dataclass(frozen=True)
class Person:
    """A seeded staff member and what the directory must say about them."""

    uid: str
    password: str
    name: str
    groups: tuple[str, ...]
    department: str  # what the directory should report
    department_number: str = ""  # set as an attribute ("" → taken from the DN's ou)
    ou: str = ""  # sub-ou of ou=people
    disabled: bool = False
    roles: frozenset[Role] = field(default_factory=frozenset)


PEOPLE = {p.uid: p for p in [
    Person("alice", "Alice-Passw0rd!", "王丽", ("hall-clerks", "managers"), "市场监督管理局",
           department_number="市场监督管理局", roles=frozenset({Role.CLERK, Role.MANAGER})),
    Person("bob", "Bob-Passw0rd!x", "李强", ("auditors",), "公安局", ou="公安局",
           roles=frozenset({Role.AUDITOR})),
    Person("zhangwei", "张伟的密码-Passw0rd1", "张伟", ("dept-heads", "canteen"), "人社局",
           department_number="人社局", roles=frozenset({Role.DEPARTMENT_HEAD})),
    Person("张伟", "张伟的密码-Passw0rd2", "张伟", ("hall-clerks",), "人社局",
           department_number="人社局", roles=frozenset({Role.CLERK})),
    Person("carol", "Carol-Passw0rd!", "陈静", ("hall-clerks",), "市场监督管理局",
           department_number="市场监督管理局", disabled=True, roles=frozenset({Role.CLERK})),
    Person("dave", "Dave-Passw0rd!x", "赵刚", ("canteen",), "市场监督管理局",
           department_number="市场监督管理局"),
]}
GROUPS = ("hall-clerks", "managers", "auditors", "dept-heads", "canteen")


def role_map_json(group_base: str) -> str:
    """cn keys and one DN key (spelled with odd case and spaces, as operators do)."""
    auditors_dn = f"CN=Auditors, {group_base}"
    return ('{"hall-clerks": "clerk", "managers": ["manager"], "dept-heads": "department_head",'
            f' "{auditors_dn}": "auditor"}}')


def ldap_env() -> dict[str, str]:
    """The test directory's settings: the environment, else var/services/env.sh; never skip."""
    env = {n: os.environ.get(n, "") for n in ENV_NAMES}
    if not all(env.values()) and ENV_FILE.exists():
        for line in ENV_FILE.read_text().splitlines():
            if line.startswith("export ") and "=" in line:
                key, _, value = line[len("export "):].partition("=")
                if key in env and not env[key]:
                    env[key] = shlex.split(value)[0] if value else ""
    missing = [n for n, v in env.items() if not v]
    if missing:
        pytest.fail(f"test OpenLDAP not configured ({', '.join(missing)} unset): run "
                    "`make services` (scripts/services.sh), then `set -a; . "
                    "var/services/env.sh; set +a`", pytrace=False)
    return env


def _admin(env: dict[str, str]) -> ldap3.Connection:
    server = ldap3.Server(env["IDP_TEST_LDAP_URL"], get_info=ldap3.NONE, connect_timeout=5)
    try:
        return ldap3.Connection(server, env["IDP_TEST_LDAP_BIND_DN"],
                                env["IDP_TEST_LDAP_BIND_PASSWORD"], auto_bind=True,
                                receive_timeout=10)
    except ldap3.core.exceptions.LDAPException as exc:
        pytest.fail(f"test OpenLDAP at {env['IDP_TEST_LDAP_URL']} unreachable ({exc}); "
                    "run `make services`", pytrace=False)


def _add(conn: ldap3.Connection, dn: str, classes: list[str], attrs: dict[str, object]) -> None:
    if not conn.add(dn, classes, attrs):
        raise RuntimeError(f"seeding {dn} failed: {conn.result}")


def _seed_people(conn: ldap3.Connection, people_dn: str) -> dict[str, str]:
    dns = {}
    for ou in sorted({p.ou for p in PEOPLE.values() if p.ou}):
        _add(conn, f"ou={ou},{people_dn}", ["organizationalUnit"], {"ou": ou})
    for p in PEOPLE.values():
        parent = f"ou={p.ou},{people_dn}" if p.ou else people_dn
        dn = f"uid={p.uid},{parent}"
        attrs: dict[str, object] = {"uid": p.uid, "cn": p.name, "sn": p.name[:1],
                                    "displayName": p.name,
                                    "userPassword": hashed(ldap3.HASHED_SALTED_SHA, p.password)}
        classes = ["inetOrgPerson"]
        if p.department_number:
            attrs["departmentNumber"] = p.department_number
        if p.disabled:
            classes.append("shadowAccount")
            attrs["shadowExpire"] = 1  # disabled since 1970-01-02 (idp/staff/ldap.py)
        _add(conn, dn, classes, attrs)
        dns[p.uid] = dn
    return dns


def _delete_tree(conn: ldap3.Connection, root: str) -> None:
    conn.search(root, "(objectClass=*)", search_scope=ldap3.SUBTREE, attributes=[])
    for dn in sorted((e.entry_dn for e in conn.entries), key=len, reverse=True):
        conn.delete(dn)


@contextmanager
def seeded_directory() -> Iterator[LdapConfig]:
    """Seed a unique subtree; yield the `LdapConfig` that reads it; delete it afterwards."""
    env = ldap_env()
    root = f"ou=t{uuid.uuid4().hex[:10]},{env['IDP_TEST_LDAP_BASE_DN']}"
    people, groups = f"ou=people,{root}", f"ou=groups,{root}"
    conn = _admin(env)
    try:
        _add(conn, root, ["organizationalUnit"], {"ou": root.split(",")[0][3:]})
        _add(conn, people, ["organizationalUnit"], {"ou": "people"})
        _add(conn, groups, ["organizationalUnit"], {"ou": "groups"})
        dns = _seed_people(conn, people)
        for cn in GROUPS:
            members = [dns[p.uid] for p in PEOPLE.values() if cn in p.groups]
            _add(conn, f"cn={cn},{groups}", ["groupOfNames"], {"cn": cn, "member": members})
        yield LdapConfig(url=env["IDP_TEST_LDAP_URL"], base_dn=root,
                         bind_dn=env["IDP_TEST_LDAP_BIND_DN"],
                         bind_password=env["IDP_TEST_LDAP_BIND_PASSWORD"],
                         user_base=people, group_base=groups, timeout=5)
    finally:
        _delete_tree(conn, root)
        conn.unbind()


def seed_local(session: Session, hasher: PasswordHasher) -> None:
    """The same people in the embedded table (roles as the directory would map them)."""
    for p in PEOPLE.values():
        row = create_local_staff(session, hasher, username=p.uid, password=p.password,
                                 display_name=p.name, department=p.department,
                                 roles=[r.value for r in p.roles] if p.uid != "dave" else [])
        row.disabled = p.disabled
