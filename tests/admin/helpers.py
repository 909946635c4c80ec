"""Helpers for console tests: an authenticator app, page forms, staff sign-in."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
from flask.testing import FlaskClient
from sqlalchemy import select

from admin_ui.service import ConsoleAuth
from admin_ui.totp import StaffTotp
from idp.audit.models import AuditRecord
from idp.platform import Platform
from idp.staff.directory import Role
from idp.staff.ldap import LdapConfig
from idp.staff.local import create_local_staff
from idp.staff.models import StaffMember

STAFF_PASSWORD = "Staff-Passw0rd-2024"


class Authenticator:
    """A staff member's TOTP app: never the same time step twice, as a careful person."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.replace(" ", "")
        self.last_step = -1

    def code(self) -> str:
        now = int(time.time() // 30)
        step = max(now, self.last_step + 1)
        assert step <= now + 1, "more codes asked than the drift window allows"
        self.last_step = step
        return pyotp.TOTP(self.secret).at(step * 30)

    def replay(self) -> str:
        """The code of the step used last (a code seen over a shoulder)."""
        return pyotp.TOTP(self.secret).at(self.last_step * 30)


def ldap_settings(config: LdapConfig, role_map: str) -> dict[str, Any]:
    return {"ldap_url": config.url, "ldap_base_dn": config.base_dn,
            "ldap_bind_dn": config.bind_dn, "ldap_bind_password": config.bind_password,
            "ldap_user_base": config.user_base, "ldap_group_base": config.group_base,
            "ldap_role_map": role_map, "ldap_timeout_seconds": 2}


def console(platform: Platform) -> ConsoleAuth:
    return platform.services["admin"]  # type: ignore[return-value]


def csrf(client: FlaskClient, path: str = "/admin/login") -> str:
    html = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def page_sign_in(client: FlaskClient, username: str, password: str,
                 device: Authenticator | None = None) -> Authenticator:
    """Password, then enrol (first time) or verify TOTP through the pages."""
    token = csrf(client)
    resp = client.post("/admin/login", data={"username": username, "password": password,
                                              "csrf_token": token})
    assert resp.status_code == 302 and "/admin/totp" in resp.headers["Location"], \
        resp.get_data(as_text=True)[:500]
    html = client.get("/admin/totp").get_data(as_text=True)
    if device is None:
        found = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html)
        assert found, "enrolment page shows no secret"
        device = Authenticator(found.group(1))
    resp = client.post("/admin/totp", data={"code": device.code(), "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/admin"), \
        resp.get_data(as_text=True)[:500]
    return device


def enrol_directly(platform: Platform, username: str, password: str) -> Authenticator:
    """Enrol a staff member's TOTP through the service (what the enrolment page does)."""
    signed = console(platform).staff.sign_in(username, password, address="198.51.100.1")
    with platform.db.session() as session:
        device = Authenticator(StaffTotp(session, platform.protector).begin(signed.member_id))
        assert StaffTotp(session, platform.protector).confirm(signed.member_id, device.code())
    return device


def api_token(client: FlaskClient, platform: Platform, username: str,
              password: str = STAFF_PASSWORD) -> str:
    device = enrol_directly(platform, username, password)
    resp = client.post("/api/v1/admin/session", json={
        "username": username, "password": password, "totp": device.code()})
    assert resp.status_code == 201, resp.json
    return str(resp.json["token"])  # type: ignore[index]


def make_local_staff(platform: Platform, username: str, roles: list[Role],
                     department: str = "市政务服务中心") -> str:
    with platform.db.session() as session:
        create_local_staff(session, platform.hasher, username=username,
                           password=STAFF_PASSWORD, display_name=f"测试{username}",
                           department=department, roles=[r.value for r in roles])
    return username


def audit(platform: Platform, action: str) -> list[AuditRecord]:
    """The audit records of ``action``, oldest first."""
    with platform.db.session() as db:
        return list(db.scalars(select(AuditRecord).where(AuditRecord.action == action)
                               .order_by(AuditRecord.seq)).all())


def member_id(platform: Platform, username: str) -> int:
    with platform.db.session() as session:
        return int(session.scalars(select(StaffMember.id).where(
            StaffMember.username == username)).one())
