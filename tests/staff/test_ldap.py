"""LDAP-only behaviour: an unreachable or hung directory, configuration, disabled entries."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

import pytest

from idp.settings import Settings, SettingsError
from idp.staff.directory import DirectoryUnavailable
from idp.staff.ldap import LdapConfig, LdapDirectory, _Entry, _is_disabled, _nearest_ou
from idp.staff.roles import RoleMap
from tests.staff.ldap_seed import PEOPLE

ALICE = PEOPLE["alice"]


def _moved(config: LdapConfig, **changes: object) -> LdapDirectory:
    return LdapDirectory(dataclasses.replace(config, **changes), RoleMap.parse(""))


def test_closed_port_means_directory_unavailable(ldap_config: LdapConfig,
                                                 closed_port: int) -> None:
    directory = _moved(ldap_config, url=f"ldap://127.0.0.1:{closed_port}")
    with pytest.raises(DirectoryUnavailable) as caught:
        directory.authenticate("alice", ALICE.password)
    assert caught.value.code == "directory_unavailable"
    with pytest.raises(DirectoryUnavailable):
        directory.lookup("alice")


def test_hung_directory_times_out_as_unavailable(ldap_config: LdapConfig,
                                                 silent_port: int) -> None:
    directory = _moved(ldap_config, url=f"ldap://127.0.0.1:{silent_port}", timeout=1)
    started = time.monotonic()
    with pytest.raises(DirectoryUnavailable):
        directory.authenticate("alice", ALICE.password)
    assert time.monotonic() - started < 10


def test_refused_service_account_means_unavailable_not_wrong_password(
        ldap_config: LdapConfig) -> None:
    directory = _moved(ldap_config, bind_password="not-the-service-password")
    with pytest.raises(DirectoryUnavailable):
        directory.authenticate("alice", ALICE.password)


def test_missing_group_base_grants_no_roles(ldap_config: LdapConfig) -> None:
    directory = _moved(ldap_config, group_base=f"ou=nowhere,{ldap_config.base_dn}")
    identity = directory.lookup("alice")
    assert identity is not None and identity.roles == frozenset()


def test_department_from_dn_when_attribute_is_not_used(ldap_config: LdapConfig) -> None:
    directory = _moved(ldap_config, department_attribute="description")
    bob, alice = directory.lookup("bob"), directory.lookup("alice")
    assert bob is not None and bob.department == "公安局"  # uid=bob,ou=公安局,ou=people
    assert alice is not None and alice.department == ""  # directly under ou=people


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = dict(ldap_url="ldap://dir.gov.example:389",
                                     ldap_base_dn="dc=gov,dc=cn")
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_config_defaults_user_and_group_bases() -> None:
    config = LdapConfig.from_settings(_settings(ldap_start_tls=True))
    assert config.user_base == "ou=people,dc=gov,dc=cn"
    assert config.group_base == "ou=groups,dc=gov,dc=cn"


@pytest.mark.parametrize(("overrides", "message"), [
    ({}, "ldaps://"),  # production, plain ldap:// without StartTLS
    ({"ldap_base_dn": ""}, "IDP_LDAP_BASE_DN"),
    ({"ldap_start_tls": True, "ldap_user_filter": "(uid=*)"}, "{username}"),
    ({"ldap_start_tls": True, "ldap_group_filter": "(objectClass=groupOfNames)"}, "{dn}"),
])
def test_config_refuses_unsafe_or_broken_settings(overrides: dict[str, object],
                                                  message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        LdapConfig.from_settings(_settings(**overrides))


@pytest.mark.parametrize("url", ["ldaps://dir.gov.example", "ldap://127.0.0.1:53389"])
def test_config_accepts_tls_or_cleartext_in_testing(url: str) -> None:
    testing = url.startswith("ldap://")
    assert LdapConfig.from_settings(_settings(ldap_url=url, testing=testing)).url == url


TODAY = dt.date(2025, 6, 1)
TODAY_DAYS = (TODAY - dt.date(1970, 1, 1)).days


@pytest.mark.parametrize(("value", "disabled"), [
    (None, False),
    ("-1", False),
    ("1", True),
    ("0", True),
    (str(TODAY_DAYS), True),
    (str(TODAY_DAYS + 1), False),
    ("not-a-number", True),  # fail closed
])
def test_shadow_expire_disables(value: str | None, disabled: bool) -> None:
    attrs = {} if value is None else {"shadowExpire": [value]}
    assert _is_disabled(_Entry("uid=x,ou=people,dc=t", attrs), TODAY) is disabled


@pytest.mark.parametrize(("dn", "expected"), [
    ("uid=a,ou=公安局,ou=people,dc=t", "公安局"),
    ("uid=a,ou=窗口,ou=公安局,ou=people,dc=t", "窗口"),
    ("UID=a, OU=Tax , OU=People,DC=t", "Tax"),
    ("uid=a,ou=people,dc=t", ""),
    ("uid=a,ou=elsewhere,dc=t", ""),
])
def test_nearest_ou_below_the_user_base(dn: str, expected: str) -> None:
    assert _nearest_ou(dn, "ou=people,dc=t") == expected
