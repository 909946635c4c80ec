"""Behaviour of every `StaffDirectory`: the real OpenLDAP and the local table (issue 5)."""

from __future__ import annotations

import pytest

from idp.staff.directory import (
    MESSAGES,
    AccountDisabled,
    NoRole,
    Source,
    StaffAuthError,
    StaffDirectory,
    WrongCredentials,
)
from idp.staff.ldap import LdapDirectory
from tests.staff.ldap_seed import PEOPLE

ALICE = PEOPLE["alice"]


def test_both_implementations_satisfy_the_port(directory: StaffDirectory) -> None:
    assert isinstance(directory, StaffDirectory)


@pytest.mark.parametrize("uid", ["alice", "bob", "zhangwei", "张伟"])
def test_sign_in_maps_roles_and_department(directory: StaffDirectory, uid: str) -> None:
    person = PEOPLE[uid]
    identity = directory.authenticate(uid, person.password)
    assert identity.username == uid
    assert identity.display_name == person.name
    assert identity.department == person.department
    assert identity.roles == person.roles
    assert identity.source is directory.source
    if isinstance(directory, LdapDirectory):
        assert identity.dn.startswith(f"uid={uid},")
    else:
        assert identity.source is Source.LOCAL and identity.dn == ""


@pytest.mark.parametrize("typed", ["ALICE", "Alice", "  alice  "])
def test_username_matches_ignoring_case_and_spaces(directory: StaffDirectory,
                                                   typed: str) -> None:
    assert directory.authenticate(typed, ALICE.password).username == "alice"


@pytest.mark.parametrize(("username", "password"), [
    ("alice", "wrong-password"),
    ("alice", ALICE.password.upper()),
    ("alice", ALICE.password + " "),
    ("alice", PEOPLE["bob"].password),  # another person's password
    ("nobody", ALICE.password),  # unknown user: the same answer
    ("王五", ALICE.password),
    ("carol", "wrong-password"),  # disabled is told only after the right password
    ("dave", "wrong-password"),
])
def test_wrong_password_and_unknown_user_get_the_same_error(
        directory: StaffDirectory, username: str, password: str) -> None:
    with pytest.raises(WrongCredentials) as caught:
        directory.authenticate(username, password)
    assert caught.value.code == "wrong_credentials"
    assert caught.value.message == MESSAGES["wrong_credentials"]


@pytest.mark.parametrize("password", ["", "x" * 257, "\ud800"])
def test_unusable_password_is_refused_before_the_directory(directory: StaffDirectory,
                                                           password: str) -> None:
    # An empty password would be an LDAP "unauthenticated bind" that succeeds (RFC 4513).
    with pytest.raises(WrongCredentials):
        directory.authenticate("alice", password)


def test_disabled_directory_account_is_refused(directory: StaffDirectory) -> None:
    with pytest.raises(AccountDisabled) as caught:
        directory.authenticate("carol", PEOPLE["carol"].password)
    assert caught.value.code == "account_disabled"


def test_person_in_no_mapped_group_is_refused(directory: StaffDirectory) -> None:
    with pytest.raises(NoRole) as caught:
        directory.authenticate("dave", PEOPLE["dave"].password)
    assert caught.value.code == "no_role"


INJECTIONS = [
    "*",
    "al*",
    "a*e",
    "*)(uid=*",
    "alice)(uid=*",
    "*)(|(uid=*",
    "alice)(|(objectClass=*",
    "alice\x00",
    "\x00",
    "alice\x00)(uid=*",
    "\\2a",
    "\\",
    "(",
    ")",
    "uid=alice,ou=people",
    "a" * 65,
    "a" * 10_000,
    "张*",
    "\u202ealice",  # a bidi override (format character)
    "alice\ud800",
    "",
    "   ",
]


@pytest.mark.parametrize("username", INJECTIONS)
def test_filter_injection_in_the_username_fails_cleanly(directory: StaffDirectory,
                                                        username: str) -> None:
    # With alice's real password: an unescaped "al*" or "*)(uid=*" would find her and sign in.
    with pytest.raises(WrongCredentials):
        directory.authenticate(username, ALICE.password)
    assert directory.lookup(username) is None


def test_lookup_describes_active_accounts_only(directory: StaffDirectory) -> None:
    alice = directory.lookup("ALICE")
    assert alice is not None and alice.roles == ALICE.roles
    assert alice.department == ALICE.department
    dave = directory.lookup("dave")
    assert dave is not None and dave.roles == frozenset()  # no role: still found
    assert directory.lookup("carol") is None  # disabled
    assert directory.lookup("nobody") is None


def test_every_error_code_has_a_message() -> None:
    codes = {cls.code for cls in _subclasses(StaffAuthError)} | {StaffAuthError.code}
    assert codes <= MESSAGES.keys()
    assert all(MESSAGES[c] for c in codes)


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found
