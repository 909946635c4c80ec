"""Put an account into a ban state through the service (for tests that start from there)."""

from __future__ import annotations

from sqlalchemy import select

from idp.accounts import bans
from idp.platform import Platform
from idp.staff.models import StaffMember

DEPARTMENT = "市政务服务中心"  # the default department of tests.admin.helpers.make_local_staff
ADDRESS = "198.51.100.7"


def staff_member(platform: Platform, username: str, department: str = DEPARTMENT,
                 roles: tuple[str, ...] = ("manager",)) -> bans.StaffRef:
    """A `StaffMember` row as a sign-in would leave it, and the reference to act as it."""
    with platform.db.session() as session:
        key = f"local:{username}"
        member = session.scalars(select(StaffMember).where(StaffMember.key == key)
                                 ).one_or_none()
        if member is None:
            member = StaffMember(key=key, username=username, source="local",
                                 display_name=username, department=department,
                                 roles=list(roles))
            session.add(member)
            session.flush()
        return bans.StaffRef(member.id, f"staff:{username}", department)


def prepare_banned(platform: Platform, person_id: int) -> bans.StaffRef:
    by = staff_member(platform, "prep-manager")
    with platform.db.session() as session:
        bans.ban(platform, session, person_id, by=by, reason="测试用封禁原因",
                 legal_basis="测试依据", address=ADDRESS)
    return by


def prepare_unban_requested(platform: Platform, person_id: int) -> int:
    by = prepare_banned(platform, person_id)
    with platform.db.session() as session:
        return bans.request_unban(session, person_id, by=by, reason="测试用解封申请",
                                  address=ADDRESS).id
