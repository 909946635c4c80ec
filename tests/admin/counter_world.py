"""The counter's test world (R-11, R-40, R-41, R-50): the simulator's card, a clerk's calls
as the card-reader agent and the hall's counter system, and what to look up afterwards.

The fixtures are in tests/admin/conftest.py: a module marked
``pytest.mark.usefixtures("counter_authorities")`` runs against the bundled authority
simulator with the local staff directory; ``clerk`` is a `Counter` with a clerk's token.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from idp.accounts.models import Person
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.helpers import STAFF_PASSWORD, api_token, csrf, make_local_staff, page_sign_in
from tests.web.conftest import post as web_post

# P04 of the simulator's seeded people; P10 deceased, P11 cancelled (docs/authorities.md).
CARD: dict[str, Any] = {
    "name": "刘洋", "sex": "男", "ethnicity": "汉", "birth_date": "1988-06-30",
    "address": "福建省厦门市思明区湖滨南路 1 号", "id_number": "350203198806300157",
    "issuing_authority": "厦门市公安局思明分局", "valid_from": "2016-07-01",
    "valid_until": "长期", "photo": "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAA==",
}
PHONE = "13800138004"
CARDS = "/api/v1/admin/counter/card-reads"


class Counter:
    """A clerk's token and the calls the agent and the counter system make."""

    def __init__(self, client: FlaskClient, platform: Platform, username: str,
                 role: Role = Role.CLERK) -> None:
        self.client = client
        self.platform = platform
        self.actor = f"staff:{username}"
        make_local_staff(platform, username, [role])
        self.headers = {"Authorization": f"Bearer {api_token(client, platform, username)}"}

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(path, json=body, headers=self.headers)

    def read(self, **change: Any) -> Any:
        return self.post(CARDS, {**CARD, **change})

    def case(self, **change: Any) -> str:
        resp = self.read(**change)
        assert resp.status_code == 201, resp.json
        return str(resp.json["id"])

    def code(self, phone: str = PHONE) -> str:
        text = self.platform.sms.messages(phone)[0].text  # type: ignore[attr-defined]
        return "".join(c for c in text if c.isdigit())[:6]

    def verified(self, phone: str = PHONE, **change: Any) -> str:
        case = self.case(**change)
        assert self.post(f"/api/v1/admin/counter/cases/{case}/sms",
                         {"phone": phone}).status_code == 200
        resp = self.post(f"/api/v1/admin/counter/cases/{case}/sms-verification",
                         {"code": self.code(phone)})
        assert resp.status_code == 200 and resp.json["phone_verified"] is True, resp.json
        return case

    def activate(self, case: str, signed: Any = True, version: str | None = None) -> Any:
        return self.post(f"/api/v1/admin/counter/cases/{case}/activation", {
            "agreement_signed": signed,
            "agreement_version": version or self.platform.settings.agreement_version})


def web_login(client: FlaskClient, data: dict[str, str]) -> Any:
    """The citizen login form (with its CSRF token)."""
    return web_post(client, "/login", data)


def persons(platform: Platform) -> int:
    with platform.db.session() as db:
        return int(db.scalar(select(func.count()).select_from(Person)) or 0)


def typed_in_case(browser: FlaskClient, platform: Platform, username: str) -> tuple[str, str]:
    """A new clerk ``username`` signs in to the console pages and types in `CARD` (no chip
    photo): the form's CSRF token and the case page's URL."""
    make_local_staff(platform, username, [Role.CLERK])
    page_sign_in(browser, username, STAFF_PASSWORD)
    token = csrf(browser, "/admin/counter")
    typed = {k: v for k, v in CARD.items() if k != "photo"}
    resp = browser.post("/admin/counter/card", data={**typed, "id_type": "resident_id",
                                                      "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return token, resp.headers["Location"]
