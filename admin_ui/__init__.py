"""The counter and management console for government staff (issue 5).

Pages under ``/admin`` (blueprint ``admin``: `admin_ui.views`, `admin_ui.audit_views`) and
the same actions as JSON under ``/api/v1/admin`` (`admin_ui.api`, listed in
``idp.api.API_MODULES``). Who may do what is one table, `admin_ui.permissions.ACTIONS`.
"""

from __future__ import annotations

from flask import Flask

from idp.platform import Platform


def build_console(platform: Platform):  # type: ignore[no-untyped-def]
    """The console's sign-in service over the node's ports (also used by tests and CLI)."""
    from admin_ui.service import ConsoleAuth
    from admin_ui.sessions import StaffSessions
    from idp.accounts.lockout import Lockout
    from idp.staff.service import build_staff_sign_in

    s = platform.settings
    return ConsoleAuth(
        db=platform.db, protector=platform.protector,
        staff=build_staff_sign_in(s, platform.db, platform.limiter, platform.hasher),
        sessions=StaffSessions(platform.store, s.secret_key,
                               idle=s.staff_session_idle_timeout,
                               absolute=s.staff_session_absolute_lifetime,
                               api_absolute=s.staff_api_token_lifetime),
        totp_lock=Lockout(platform.limiter, "staff-totp", s.staff_max_failures,
                          s.staff_lockout_seconds),
        recheck_seconds=s.staff_recheck_seconds, secret_key=s.secret_key)


def init_app(app: Flask, platform: Platform) -> None:
    """Register the console pages and its template helpers."""
    import admin_ui.bans  # noqa: F401 - ban and unban pages (issue 5 item 4)
    import admin_ui.clients  # noqa: F401 - department systems (issue 5 item 6)
    import admin_ui.dashboard  # noqa: F401 - dashboard (issue 5 item 7)
    import admin_ui.staff_admin  # noqa: F401 - staff authenticator reset (issue 5 item 1)
    from admin_ui import (
        audit_views,  # noqa: F401 - adds its routes to the blueprint
        counter,  # noqa: F401 - counter services (issue 5 items 2, 3)
        counter_org_views,  # noqa: F401 - legal-person counter registration (R-22)
        counter_phone_views,  # noqa: F401 - second sign-off of a phone change (R-41)
        scans,  # noqa: F401 - opening stored counter scans (R-22, R-53)
    )
    from admin_ui.auth import current_staff
    from admin_ui.permissions import ACTIONS, ROLE_LABELS, may, nav_for
    from admin_ui.views import bp

    platform.services["admin"] = build_console(platform)
    app.register_blueprint(bp)

    @app.context_processor
    def _console() -> dict[str, object]:
        from flask import request

        if request.blueprint != "admin":
            return {}
        staff = current_staff()
        roles = staff.roles if staff is not None and staff.complete else []
        return {"staff": staff, "nav": nav_for(roles),
                "may": lambda action: may(roles, action), "actions": ACTIONS,
                "role_labels": ROLE_LABELS}
