"""Managing local (demo and break-glass) staff accounts."""

from __future__ import annotations

import bcrypt
import pytest
from sqlalchemy import select

from idp.platform import Platform
from idp.staff.directory import Role, WrongCredentials
from idp.staff.local import (
    LocalDirectory,
    LocalStaffError,
    create_local_staff,
    set_local_password,
)
from idp.staff.models import LocalStaffAccount

GOOD = dict(username="admin1", password="Long-enough-passw0rd", display_name="管理员",
            roles=["platform_admin"])


@pytest.mark.parametrize(("changes", "message"), [
    ({"password": "short-pw"}, "at least 12"),
    ({"password": ""}, "empty"),
    ({"roles": ["root"]}, "unknown role"),
    ({"username": ""}, "username"),
    ({"username": "bad\x00name"}, "username"),
    ({"username": "x" * 65}, "username"),
    ({"display_name": "  "}, "display name"),
])
def test_create_refuses_bad_input(platform: Platform, changes: dict[str, object],
                                  message: str) -> None:
    with platform.db.session() as session:
        with pytest.raises(LocalStaffError, match=message):
            create_local_staff(session, platform.hasher, **{**GOOD, **changes})  # type: ignore[arg-type]
        assert session.scalars(select(LocalStaffAccount)).all() == []


def test_create_refuses_a_duplicate_username_in_any_case(platform: Platform) -> None:
    with platform.db.session() as session:
        create_local_staff(session, platform.hasher, **GOOD)  # type: ignore[arg-type]
        with pytest.raises(LocalStaffError, match="exists"):
            create_local_staff(session, platform.hasher,
                               **{**GOOD, "username": "ADMIN1"})  # type: ignore[arg-type]
        assert len(session.scalars(select(LocalStaffAccount)).all()) == 1


def test_stale_hash_is_upgraded_to_argon2id(platform: Platform) -> None:
    with platform.db.session() as session:
        row = create_local_staff(session, platform.hasher, **GOOD)  # type: ignore[arg-type]
        row.password_hash = bcrypt.hashpw(GOOD["password"].encode(),  # type: ignore[union-attr]
                                          bcrypt.gensalt(4)).decode()
    directory = LocalDirectory(platform.db, platform.hasher)
    assert directory.authenticate("admin1", GOOD["password"]).roles == {Role.PLATFORM_ADMIN}
    with platform.db.session() as session:
        stored = session.scalars(select(LocalStaffAccount)).one().password_hash
    assert stored.startswith("$argon2id$")


def test_set_password_replaces_the_old_one(platform: Platform) -> None:
    with platform.db.session() as session:
        create_local_staff(session, platform.hasher, **GOOD)  # type: ignore[arg-type]
        set_local_password(session, platform.hasher, "Admin1", "Another-passw0rd-2")
        with pytest.raises(LocalStaffError, match="no local staff"):
            set_local_password(session, platform.hasher, "nobody", "Another-passw0rd-2")
    directory = LocalDirectory(platform.db, platform.hasher)
    with pytest.raises(WrongCredentials):
        directory.authenticate("admin1", GOOD["password"])
    assert directory.authenticate("admin1", "Another-passw0rd-2").username == "admin1"


def test_breakglass_and_demo_accounts_are_apart(platform: Platform) -> None:
    with platform.db.session() as session:
        create_local_staff(session, platform.hasher, breakglass=True, **GOOD)  # type: ignore[arg-type]
    with pytest.raises(WrongCredentials):
        LocalDirectory(platform.db, platform.hasher).authenticate("admin1", GOOD["password"])
    identity = LocalDirectory(platform.db, platform.hasher, breakglass=True).authenticate(
        "admin1", GOOD["password"])
    assert identity.source == "breakglass"
