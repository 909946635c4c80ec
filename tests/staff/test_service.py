"""Staff sign-in orchestration: audit, lockout, break-glass when the directory is down."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import select

from idp.audit.models import AuditRecord
from idp.platform import Platform
from idp.settings import SettingsError
from idp.staff.directory import (
    AccountDisabled,
    DirectoryUnavailable,
    NoRole,
    Role,
    Source,
    StaffIdentity,
    TooManyAttempts,
    WrongCredentials,
)
from idp.staff.ldap import LdapConfig, LdapDirectory
from idp.staff.local import LocalDirectory
from idp.staff.models import StaffMember
from idp.staff.roles import RoleMap
from idp.staff.service import (
    BreakglassPolicy,
    StaffGuards,
    StaffSignIn,
    build_staff_sign_in,
)
from tests.staff.conftest import BREAKGLASS_PASSWORD
from tests.staff.ldap_seed import PEOPLE

ALICE = PEOPLE["alice"]
ADDRESS = "192.0.2.10"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"staff_max_failures": 3, "staff_address_max_failures": 6}


class Counting:
    """Wraps a directory and counts the calls that reach it."""

    def __init__(self, inner: LdapDirectory) -> None:
        self.inner, self.calls, self.source = inner, 0, inner.source

    def authenticate(self, username: str, password: str) -> StaffIdentity:
        self.calls += 1
        return self.inner.authenticate(username, password)

    def lookup(self, username: str) -> StaffIdentity | None:
        return self.inner.lookup(username)


def _service(platform: Platform, directory: object,
             policy: BreakglassPolicy = BreakglassPolicy.DIRECTORY_DOWN) -> StaffSignIn:
    return StaffSignIn(platform.db, directory,  # type: ignore[arg-type]
                       StaffGuards.build(platform.limiter, platform.settings),
                       platform.settings.secret_key,
                       breakglass=LocalDirectory(platform.db, platform.hasher, breakglass=True),
                       policy=policy)


@pytest.fixture
def directory(ldap_directory: LdapDirectory) -> Counting:
    return Counting(ldap_directory)


@pytest.fixture
def staff(platform: Platform, directory: Counting, breakglass: str) -> StaffSignIn:
    return _service(platform, directory)


@pytest.fixture
def down(platform: Platform, ldap_config: LdapConfig, role_map: RoleMap, closed_port: int,
         breakglass: str) -> StaffSignIn:
    """Sign-in whose directory is unreachable (nothing listens on its port)."""
    config = dataclasses.replace(ldap_config, url=f"ldap://127.0.0.1:{closed_port}")
    return _service(platform, LdapDirectory(config, role_map))


def _audit(platform: Platform) -> list[AuditRecord]:
    with platform.db.session() as session:
        return list(session.scalars(select(AuditRecord).order_by(AuditRecord.seq)))


def _actions(platform: Platform) -> list[tuple[str, str, str]]:
    return [(r.action, r.target, r.details.get("reason", "")) for r in _audit(platform)]


def test_success_is_audited_and_remembered(platform: Platform, staff: StaffSignIn) -> None:
    first = staff.sign_in("Alice", ALICE.password, address=ADDRESS)
    again = staff.sign_in("alice", ALICE.password, address=ADDRESS)
    assert first.identity.roles == {Role.CLERK, Role.MANAGER} and not first.breakglass
    assert first.member_id == again.member_id
    with platform.db.session() as session:
        member = session.get(StaffMember, first.member_id)
        assert member is not None
        assert (member.username, member.department, member.roles) == (
            "alice", ALICE.department, ["clerk", "manager"])
    records = _audit(platform)
    assert [r.action for r in records] == ["staff:login:success"] * 2
    assert records[0].actor == "staff:alice" and records[0].address == ADDRESS
    assert records[0].details["roles"] == ["clerk", "manager"]


@pytest.mark.parametrize(("uid", "password", "error", "reason"), [
    ("alice", "wrong-password", WrongCredentials, "wrong_credentials"),
    ("nobody", ALICE.password, WrongCredentials, "wrong_credentials"),
    ("carol", PEOPLE["carol"].password, AccountDisabled, "account_disabled"),
    ("dave", PEOPLE["dave"].password, NoRole, "no_role"),
    ("*)(uid=*", ALICE.password, WrongCredentials, "wrong_credentials"),
    ("alice\x00", ALICE.password, WrongCredentials, "malformed_username"),
])
def test_refusals_are_audited_without_the_password(
        platform: Platform, staff: StaffSignIn, uid: str, password: str,
        error: type[Exception], reason: str) -> None:
    with pytest.raises(error):
        staff.sign_in(uid, password, address=ADDRESS)
    records = _audit(platform)
    assert [(r.action, r.outcome, r.details["reason"]) for r in records] == [
        ("staff:login:failure", "failure", reason)]
    assert records[0].actor == "anonymous"
    assert password not in json.dumps([r.details for r in records], ensure_ascii=False)


def test_directory_down_gives_staff_a_clear_error(platform: Platform,
                                                  down: StaffSignIn) -> None:
    with pytest.raises(DirectoryUnavailable) as caught:
        down.sign_in("alice", ALICE.password, address=ADDRESS)
    assert "目录" in caught.value.message
    assert _actions(platform) == [
        ("staff:login:failure", "staff:alice", "directory_unavailable")]


def test_breakglass_works_when_directory_is_down_and_is_audited(platform: Platform,
                                                                down: StaffSignIn) -> None:
    signed_in = down.sign_in("BreakGlass", BREAKGLASS_PASSWORD, address=ADDRESS)
    assert signed_in.breakglass and signed_in.identity.source is Source.BREAKGLASS
    assert signed_in.identity.roles == {Role.PLATFORM_ADMIN}
    assert _actions(platform) == [
        ("staff:login:failure", "staff:BreakGlass", "directory_unavailable"),  # as typed
        ("staff:breakglass:use", "staff:breakglass", "directory_unavailable"),
        ("staff:login:success", "staff:breakglass", ""),
    ]


def test_breakglass_wrong_password_is_counted_and_locks(platform: Platform,
                                                        down: StaffSignIn) -> None:
    for _ in range(2):
        with pytest.raises(WrongCredentials):
            down.sign_in("breakglass", "not-the-password", address=ADDRESS)
    with pytest.raises(TooManyAttempts):
        down.sign_in("breakglass", "not-the-password", address=ADDRESS)
    with pytest.raises(TooManyAttempts):
        down.sign_in("breakglass", BREAKGLASS_PASSWORD, address=ADDRESS)
    assert "staff:breakglass:use" not in [a for a, _, _ in _actions(platform)]


def test_breakglass_is_refused_while_the_directory_is_up(platform: Platform,
                                                         staff: StaffSignIn) -> None:
    with pytest.raises(WrongCredentials):
        staff.sign_in("breakglass", BREAKGLASS_PASSWORD, address=ADDRESS)
    assert [a for a, _, _ in _actions(platform)] == ["staff:login:failure"]


def test_breakglass_policy_off_refuses_it_even_when_down(platform: Platform,
                                                         down: StaffSignIn) -> None:
    off = _service(platform, down.directory, BreakglassPolicy.OFF)
    with pytest.raises(DirectoryUnavailable):
        off.sign_in("breakglass", BREAKGLASS_PASSWORD, address=ADDRESS)


def test_breakglass_policy_always_lets_it_in_while_up(platform: Platform, directory: Counting,
                                                      breakglass: str) -> None:
    always = _service(platform, directory, BreakglassPolicy.ALWAYS)
    assert always.sign_in("breakglass", BREAKGLASS_PASSWORD).breakglass
    assert directory.calls == 0
    assert ("staff:breakglass:use", "staff:breakglass", "policy_always") in _actions(platform)


def test_lockout_after_failures_stops_asking_the_directory(
        platform: Platform, staff: StaffSignIn, directory: Counting) -> None:
    for _ in range(2):
        with pytest.raises(WrongCredentials):
            staff.sign_in("alice", "wrong-password", address=ADDRESS)
    with pytest.raises(TooManyAttempts) as caught:
        staff.sign_in("ALICE", "wrong-password", address=ADDRESS)  # same name, any case
    assert caught.value.retry_after > 0 and caught.value.code == "locked"
    calls = directory.calls
    with pytest.raises(TooManyAttempts):
        staff.sign_in("alice", ALICE.password, address="198.51.100.7")
    assert directory.calls == calls  # a locked name is not even sent to the directory
    actions = _actions(platform)
    assert ("staff:lockout", "staff:ALICE", "") in actions
    assert actions[-1] == ("staff:login:failure", "staff:alice", "locked")


def test_unknown_names_lock_like_real_ones(staff: StaffSignIn) -> None:
    errors = []
    for _ in range(3):
        with pytest.raises((WrongCredentials, TooManyAttempts)) as caught:
            staff.sign_in("nobody", "whatever-password", address=ADDRESS)
        errors.append(type(caught.value))
    assert errors == [WrongCredentials, WrongCredentials, TooManyAttempts]


def test_success_forgives_earlier_failures(staff: StaffSignIn) -> None:
    for _ in range(2):
        with pytest.raises(WrongCredentials):
            staff.sign_in("alice", "wrong-password", address=ADDRESS)
    staff.sign_in("alice", ALICE.password, address=ADDRESS)
    for _ in range(2):  # the count starts again: two more wrong ones do not lock
        with pytest.raises(WrongCredentials):
            staff.sign_in("alice", "wrong-password", address=ADDRESS)


def test_address_is_throttled_across_usernames(staff: StaffSignIn) -> None:
    for i in range(6):
        with pytest.raises(WrongCredentials):
            staff.sign_in(f"guess{i}", "wrong-password", address=ADDRESS)
    with pytest.raises(TooManyAttempts):
        staff.sign_in("alice", ALICE.password, address=ADDRESS)
    assert staff.sign_in("alice", ALICE.password, address="198.51.100.7").identity


def test_local_directory_service_signs_in(platform: Platform, local_directory: LocalDirectory,
                                          breakglass: str) -> None:
    service = _service(platform, local_directory)
    assert service.sign_in("bob", PEOPLE["bob"].password).identity.source is Source.LOCAL
    with pytest.raises(WrongCredentials):  # break-glass is not a demo account, and the
        service.sign_in("breakglass", BREAKGLASS_PASSWORD)  # local table is never "down"


def test_build_uses_ldap_from_settings(platform: Platform, ldap_config: LdapConfig) -> None:
    settings = dataclasses.replace(
        platform.settings, ldap_url=ldap_config.url, ldap_base_dn=ldap_config.base_dn,
        ldap_bind_dn=ldap_config.bind_dn, ldap_bind_password=ldap_config.bind_password,
        ldap_role_map="hall-clerks=clerk;managers=manager")
    service = build_staff_sign_in(settings, platform.db, platform.limiter, platform.hasher)
    assert isinstance(service.directory, LdapDirectory)
    assert service.sign_in("alice", ALICE.password).identity.roles == {Role.CLERK, Role.MANAGER}


def test_build_uses_the_local_table_without_a_directory(platform: Platform) -> None:
    service = build_staff_sign_in(platform.settings, platform.db, platform.limiter,
                                  platform.hasher)
    assert isinstance(service.directory, LocalDirectory)
    assert service.policy is BreakglassPolicy.DIRECTORY_DOWN


@pytest.mark.parametrize(("overrides", "message"), [
    ({"breakglass_policy": "sometimes"}, "IDP_BREAKGLASS_POLICY"),
    ({"ldap_url": "ldap://127.0.0.1:1", "ldap_base_dn": "dc=t", "ldap_role_map": "x=root"},
     "IDP_LDAP_ROLE_MAP"),
])
def test_build_refuses_bad_settings(platform: Platform, overrides: dict[str, object],
                                    message: str) -> None:
    settings = dataclasses.replace(platform.settings, **overrides)  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match=message):
        build_staff_sign_in(settings, platform.db, platform.limiter, platform.hasher)
