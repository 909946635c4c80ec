"""Who may do what in the console: the one permission table (issue 5 item 1, R-53).

Every console page and every admin API operation names an action of `ACTIONS`; the server
checks the signed-in staff member's roles against it on every request (`may`), whatever
the navigation showed. Two rules are checked here once, at import, so no later edit can
break them silently:

- auditors change nothing: no action that ``changes`` state may grant `Role.AUDITOR`;
- every action names at least one role (an action nobody may do is a typo).

Separation of duties (R-52: the one who asks for an unban can never approve it) is
`check_not_own_request`, for every two-person operation.

To add an action: add an `Action` line here, guard its view with
``@staff_required("the.action")`` (pages, `admin_ui.auth`) or
``@staff_api("the.action")`` (JSON, `admin_ui.api_auth`), and, when it has a page of its
own, a `NavEntry` in `NAV`. The role-matrix test (tests/admin/test_role_matrix.py) then
tries every role that is not allowed on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from idp.staff.directory import N_, Role

A = Role  # short alias for the table below
EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class Action:
    """One operation: the roles allowed it, and whether it changes anything."""

    roles: frozenset[Role]
    changes: bool
    label: str  # zh-CN, marked for translation; shown in refusals and the audit view


ACTIONS: dict[str, Action] = {
    "console.home": Action(EVERYONE, False, N_("工作台")),
    "audit.search": Action(frozenset({A.AUDITOR, A.PLATFORM_ADMIN}), False,
                           N_("查询审计日志")),
    "audit.export": Action(frozenset({A.AUDITOR, A.PLATFORM_ADMIN}), False,
                           N_("导出审计日志")),
    "audit.verify_chain": Action(frozenset({A.AUDITOR, A.PLATFORM_ADMIN}), False,
                                 N_("校验审计日志完整性")),
    # Reading a full ID number changes nothing, but is itself audited with a reason.
    "person.reveal_id_number": Action(frozenset({A.AUDITOR, A.PLATFORM_ADMIN}), False,
                                      N_("查看完整证件号码")),
    # Ban and unban: a manager bans and asks; a department head decides.
    "account.view_history": Action(frozenset({A.CLERK, A.MANAGER, A.DEPARTMENT_HEAD,
                                              A.AUDITOR}), False, N_("查看账号状态记录")),
    "account.ban": Action(frozenset({A.MANAGER}), True, N_("封禁账号")),
    "account.request_unban": Action(frozenset({A.MANAGER}), True, N_("申请解封账号")),
    "account.approve_unban": Action(frozenset({A.DEPARTMENT_HEAD}), True, N_("批准解封")),
    "account.refuse_unban": Action(frozenset({A.DEPARTMENT_HEAD}), True, N_("驳回解封")),
    # Counter services for natural persons: clerks in the service hall.
    "counter.card_read": Action(frozenset({A.CLERK, A.PLATFORM_ADMIN}), True,
                                N_("窗口读取身份证")),
    "counter.register": Action(frozenset({A.CLERK, A.PLATFORM_ADMIN}), True,
                               N_("窗口注册账号")),
    "counter.password_reset": Action(frozenset({A.CLERK, A.PLATFORM_ADMIN}), True,
                                     N_("窗口重置密码")),
    # R-41 counter route: the old number is lost; ID card + SMS code to the new number.
    "counter.phone_change": Action(frozenset({A.CLERK, A.PLATFORM_ADMIN}), True,
                                   N_("窗口更换绑定手机")),
    # A phone change on a typed-in card waits for a colleague of the same hall (never the
    # asker, `check_not_own_request`): managers, clerks, platform administrators.
    "counter.approve_phone_change": Action(frozenset({A.CLERK, A.MANAGER, A.PLATFORM_ADMIN}),
                                           True, N_("复核窗口更换绑定手机")),
    # a legal person opened at the counter by its representative or an agent.
    "counter.register_org": Action(frozenset({A.CLERK, A.PLATFORM_ADMIN}), True,
                                   N_("窗口法人开户")),
    # Stored scans show ID cards and signatures: the clerk who took them (checked per scan,
    # `admin_ui.scans`) and auditors; reading changes nothing but is audited.
    "counter.view_scan": Action(frozenset({A.CLERK, A.PLATFORM_ADMIN, A.AUDITOR}), False,
                                N_("查看扫描件")),
    "counter.print_agreement": Action(frozenset({A.CLERK, A.PLATFORM_ADMIN}), False,
                                      N_("打印服务协议")),
    # Department systems: client administrators change, supervisors look.
    "client.view": Action(frozenset({A.MANAGER, A.DEPARTMENT_HEAD, A.AUDITOR, A.CLIENT_ADMIN,
                                     A.PLATFORM_ADMIN}), False, N_("查看接入应用")),
    "client.create": Action(frozenset({A.CLIENT_ADMIN, A.PLATFORM_ADMIN}), True,
                            N_("登记接入应用")),
    "client.update": Action(frozenset({A.CLIENT_ADMIN, A.PLATFORM_ADMIN}), True,
                            N_("修改接入应用")),
    "client.rotate_secret": Action(frozenset({A.CLIENT_ADMIN, A.PLATFORM_ADMIN}), True,
                                   N_("更换应用密钥")),
    "client.disable": Action(frozenset({A.CLIENT_ADMIN, A.PLATFORM_ADMIN}), True,
                             N_("停用接入应用")),
    "client.enable": Action(frozenset({A.CLIENT_ADMIN, A.PLATFORM_ADMIN}), True,
                            N_("重新启用接入应用")),
    # A lost staff authenticator: reset by a platform administrator, never one's own.
    "staff.reset_totp": Action(frozenset({A.PLATFORM_ADMIN}), True, N_("重置工作人员动态验证码")),
    # Dashboard (issue 5 item 7): counts only, no personal data.
    "dashboard.view": Action(frozenset({A.MANAGER, A.DEPARTMENT_HEAD, A.AUDITOR,
                                        A.PLATFORM_ADMIN}), False, N_("运行统计")),
}


@dataclass(frozen=True)
class NavEntry:
    """A console menu entry, shown only to roles allowed its action."""

    action: str
    endpoint: str
    label: str


NAV: tuple[NavEntry, ...] = (
    NavEntry("console.home", "admin.home", N_("工作台")),
    NavEntry("counter.card_read", "admin.counter", N_("窗口业务")),
    NavEntry("counter.approve_phone_change", "admin.counter_phone_approvals",
             N_("换绑复核")),
    NavEntry("audit.search", "admin.audit", N_("审计日志")),
    NavEntry("account.view_history", "admin.accounts", N_("账号封禁管理")),
    NavEntry("account.approve_unban", "admin.unban_requests", N_("解封审批")),
    NavEntry("client.view", "admin.clients_list", N_("接入应用")),
    NavEntry("dashboard.view", "admin.dashboard", N_("运行统计")),
    NavEntry("staff.reset_totp", "admin.staff_list", N_("工作人员")),
)


ROLE_LABELS: dict[str, str] = {
    Role.CLERK.value: N_("窗口工作人员"),
    Role.MANAGER.value: N_("业务主管"),
    Role.DEPARTMENT_HEAD.value: N_("部门负责人"),
    Role.AUDITOR.value: N_("审计员"),
    Role.CLIENT_ADMIN.value: N_("应用管理员"),
    Role.PLATFORM_ADMIN.value: N_("平台管理员"),
}


class PermissionDenied(Exception):
    """The staff member's roles do not allow ``action``."""

    code = "forbidden"

    def __init__(self, action: str, reason: str = "role") -> None:
        super().__init__(action)
        self.action = action
        self.reason = reason  # "role" | "own_request" | "unknown_action" | "other_hall"


def _check_table(actions: dict[str, Action], nav: Iterable[NavEntry]) -> None:
    for name, action in actions.items():
        if not action.roles:
            raise AssertionError(f"action {name!r} grants no role")
        if action.changes and Role.AUDITOR in action.roles:
            raise AssertionError(f"action {name!r} changes state: auditors change nothing")
    for entry in nav:
        if entry.action not in actions:
            raise AssertionError(f"nav entry {entry.endpoint!r} names unknown action")


_check_table(ACTIONS, NAV)


def may(roles: Iterable[Role | str], action: str) -> bool:
    """True when any of ``roles`` is allowed ``action``; unknown actions are never allowed."""
    allowed = ACTIONS.get(action)
    if allowed is None:
        return False
    held = {r.value if isinstance(r, Role) else str(r) for r in roles}
    return any(r.value in held for r in allowed.roles)


def require(roles: Iterable[Role | str], action: str) -> None:
    """Raise `PermissionDenied` unless ``roles`` allow ``action``."""
    if action not in ACTIONS:
        raise PermissionDenied(action, "unknown_action")
    if not may(roles, action):
        raise PermissionDenied(action)


def check_not_own_request(action: str, requested_by: int, deciding: int) -> None:
    """Separation of duties: the staff member who asked may not decide (R-52).

    ``requested_by`` and ``deciding`` are `StaffMember` ids, stable across sign-ins and
    directory renames of the display name.
    """
    if requested_by == deciding:
        raise PermissionDenied(action, "own_request")


def nav_for(roles: Iterable[Role | str]) -> list[NavEntry]:
    """The menu a staff member sees: only entries whose action they may do."""
    held = list(roles)
    return [entry for entry in NAV if may(held, entry.action)]
