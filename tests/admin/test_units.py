"""Permission table rules, separation of duties, staff session limits and re-checks."""

from __future__ import annotations

from typing import Any

import pytest

from admin_ui import permissions
from admin_ui.permissions import (
    ACTIONS,
    Action,
    NavEntry,
    PermissionDenied,
    check_not_own_request,
    may,
    nav_for,
    require,
)
from admin_ui.sessions import StaffSessions
from idp.platform import Platform
from idp.staff.directory import Role, Source, StaffIdentity
from idp.staff.models import LocalStaffAccount
from idp.store import MemoryStore
from tests.admin.helpers import STAFF_PASSWORD, console, make_local_staff

IDENTITY = StaffIdentity("alice", "王丽", "市场监督管理局", frozenset({Role.AUDITOR}),
                         Source.LDAP)


def test_auditors_change_nothing_is_enforced_on_the_table() -> None:
    assert all(not a.changes for a in ACTIONS.values() if Role.AUDITOR in a.roles)
    bad = {"x.ban": Action(frozenset({Role.AUDITOR, Role.MANAGER}), True, "x")}
    with pytest.raises(AssertionError, match="auditors change nothing"):
        permissions._check_table(bad, ())
    with pytest.raises(AssertionError, match="grants no role"):
        permissions._check_table({"x": Action(frozenset(), False, "x")}, ())
    with pytest.raises(AssertionError, match="unknown action"):
        permissions._check_table(ACTIONS, (NavEntry("nope", "admin.home", "x"),))


@pytest.mark.parametrize(("roles", "action", "allowed"), [
    ({Role.AUDITOR}, "audit.search", True), (["auditor"], "audit.export", True),
    ({Role.CLERK, Role.MANAGER}, "audit.search", False), (set(), "console.home", False),
    ({Role.PLATFORM_ADMIN}, "person.reveal_id_number", True),
    ({Role.PLATFORM_ADMIN}, "no.such.action", False), (["not-a-role"], "console.home", False),
])
def test_may(roles: Any, action: str, allowed: bool) -> None:
    assert may(roles, action) is allowed


def test_require_names_the_reason() -> None:
    with pytest.raises(PermissionDenied) as exc:
        require([Role.CLERK], "audit.search")
    assert exc.value.reason == "role"
    with pytest.raises(PermissionDenied) as exc:
        require([Role.PLATFORM_ADMIN], "typo.action")
    assert exc.value.reason == "unknown_action"


def test_separation_of_duties_refuses_own_request() -> None:
    check_not_own_request("unban.approve", requested_by=7, deciding=8)
    with pytest.raises(PermissionDenied) as exc:
        check_not_own_request("unban.approve", requested_by=7, deciding=7)
    assert exc.value.reason == "own_request"


def test_nav_is_filtered_by_role() -> None:
    clerk = [e.action for e in nav_for([Role.CLERK])]
    assert clerk[0] == "console.home" and "audit.search" not in clerk
    assert all(Role.CLERK in permissions.ACTIONS[a].roles for a in clerk)
    assert "audit.search" in [e.action for e in nav_for([Role.AUDITOR])]


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1_700_000_000.0
        monkeypatch.setattr("admin_ui.sessions.time.time", lambda: self.now)
        monkeypatch.setattr("idp.store.time.time", lambda: self.now, raising=False)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def _sessions() -> StaffSessions:
    return StaffSessions(MemoryStore(), "k" * 32, idle=900, absolute=8 * 3600, api_absolute=3600)


def test_console_session_idles_out_after_15_minutes(clock: Clock) -> None:
    sessions = _sessions()
    token, _ = sessions.start(1, IDENTITY, kind="console")
    clock.now += 14 * 60
    assert sessions.load(token, kind="console") is not None  # refreshes the idle timer
    clock.now += 14 * 60
    assert sessions.load(token, kind="console") is not None
    clock.now += 15 * 60
    assert sessions.load(token, kind="console") is None


def test_console_session_ends_after_8_hours_even_when_busy(clock: Clock) -> None:
    sessions = _sessions()
    token, _ = sessions.start(1, IDENTITY, kind="console")
    for _ in range(8 * 6 - 1):
        clock.now += 10 * 60
        assert sessions.load(token, kind="console") is not None
    clock.now += 10 * 60
    assert sessions.load(token, kind="console") is None


def test_tokens_are_kind_bound_and_not_stored_in_clear(clock: Clock) -> None:
    store = MemoryStore()
    sessions = StaffSessions(store, "k" * 32, idle=900, absolute=8 * 3600, api_absolute=3600)
    token, s = sessions.start(1, IDENTITY, kind="api")
    assert sessions.load(token, kind="console") is None
    assert sessions.load(token, kind="api") is not None
    assert token not in s.key and store.get(f"staff-sess:{token}") is None
    clock.now += 3600
    assert sessions.load(token, kind="api") is None  # API tokens live an hour at most


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"staff_recheck_seconds": 0}  # local directory, re-checked on every request


def test_a_disabled_account_loses_its_session_at_the_next_check(platform: Platform) -> None:
    user = make_local_staff(platform, "zhao", [Role.AUDITOR])
    auth = console(platform)
    token, _ = auth.password_step(user, STAFF_PASSWORD, "192.0.2.1")
    assert auth.current(token, kind="console") is not None
    with platform.db.session() as session:
        row = session.query(LocalStaffAccount).filter_by(username=user).one()
        row.roles = ["clerk"]
    assert auth.current(token, kind="console").roles == ["clerk"]  # type: ignore[union-attr]
    with platform.db.session() as session:
        session.query(LocalStaffAccount).filter_by(username=user).one().disabled = True
    assert auth.current(token, kind="console") is None
