"""The dashboard: daily counts from the live tables, page and API (issue 5 item 7)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from admin_ui import stats
from idp.accounts.models import Person
from idp.audit import service as audit
from idp.db import utcnow
from idp.platform import Platform
from idp.realname.documents import mod11_2
from idp.staff.directory import Role
from tests.admin.helpers import STAFF_PASSWORD, api_token, make_local_staff, page_sign_in

UTC = dt.UTC


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


def _id(seq: int) -> str:
    body = f"11010519800101{seq:03d}"
    return body + mod11_2(body)


def _person(platform: Platform, make_citizen, seq: int, channel: str,  # type: ignore[no-untyped-def]
             created: dt.datetime) -> None:
    c = make_citizen(id_number=_id(seq), phone=f"1390000{seq:04d}")
    with platform.db.session() as session:
        session.execute(update(Person).where(Person.id == c.person_id)
                        .values(channel=channel, created_at=created))


def _events(platform: Platform, *events: tuple[str, dict[str, Any]]) -> None:
    with platform.db.session() as session:
        for action, details in events:
            audit.record(session, actor="person:x", action=action, details=details)


def test_window_is_calendar_days_in_china_standard_time() -> None:
    now = dt.datetime(2024, 5, 1, 16, 30, tzinfo=UTC)  # 2024-05-02 00:30 in Beijing
    w = stats.window(7, now)
    assert w.days[0] == dt.date(2024, 4, 26) and w.days[-1] == dt.date(2024, 5, 2)
    assert w.start == dt.datetime(2024, 4, 25, 16, tzinfo=UTC)
    assert w.end == dt.datetime(2024, 5, 2, 16, tzinfo=UTC)
    assert len(w.bounds) == 8


@pytest.mark.parametrize("days", [0, -1, 32, 365])
def test_window_is_bounded(days) -> None:
    with pytest.raises(ValueError):
        stats.window(days)


def test_registrations_per_channel_per_day(platform, make_citizen) -> None:
    now = utcnow()
    _person(platform, make_citizen, 1, "web", now)
    _person(platform, make_citizen, 2, "web", now)
    _person(platform, make_citizen, 3, "counter", now - dt.timedelta(days=1))
    _person(platform, make_citizen, 4, "app", now - dt.timedelta(days=20))  # outside 14 days
    with platform.db.session() as session:
        d = stats.dashboard(session, 14, now)
    assert d.registrations["web"][-1] == 2 and sum(d.registrations["web"]) == 2
    assert d.registrations["counter"][-2] == 1 and sum(d.registrations["counter"]) == 1
    assert "app" not in d.registrations
    assert list(d.registrations) == ["web", "counter"]  # largest first


def test_logins_failures_lockouts_and_bans(platform) -> None:
    _events(platform, ("account:login:success", {"method": "pwd"}),
            ("account:login:success", {"method": "pwd"}),
            ("account:login:success", {"method": "face"}),
            ("account:login:success", {}),
            ("account:login:failure", {"method": "pwd"}),
            ("account:login:failure", {"method": "sms"}),
            ("account:lockout", {"method": "pwd"}),
            ("admin:account:ban", {}), ("admin:unban:approve", {}),
            ("admin:unban:request", {}), ("staff:login:success", {"method": "pwd"}))
    # Seen from two days later: everything falls on the third day from the end.
    with platform.db.session() as session:
        d = stats.dashboard(session, 7, utcnow() + dt.timedelta(days=2))
    assert d.logins == {"pwd": [0, 0, 0, 0, 2, 0, 0], "face": [0, 0, 0, 0, 1, 0, 0],
                        "other": [0, 0, 0, 0, 1, 0, 0]}
    assert d.failures == {"failure": [0, 0, 0, 0, 2, 0, 0], "lockout": [0, 0, 0, 0, 1, 0, 0]}
    assert d.bans == {"ban": [0, 0, 0, 0, 1, 0, 0], "unban": [0, 0, 0, 0, 1, 0, 0]}
    with platform.db.session() as session:
        later = stats.dashboard(session, 7, utcnow() + dt.timedelta(days=8))
    assert later.logins == {} and sum(later.failures["failure"]) == 0


def test_page_draws_four_charts_with_tables(app: Flask, platform, make_citizen) -> None:
    _person(platform, make_citizen, 1, "kiosk", utcnow())
    _events(platform, ("account:login:success", {"method": "sms"}))
    browser = app.test_client()
    page_sign_in(browser, make_local_staff(platform, "mgr", [Role.MANAGER]), STAFF_PASSWORD)
    resp = browser.get("/admin/dashboard")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert html.count('role="img"') == 4 and html.count('<table class="log data">') == 4
    assert "自助终端 <span class=\"muted\">(1)</span>" in html
    assert "短信验证码 <span class=\"muted\">(1)</span>" in html
    assert "style=" not in html and "<script" not in html
    assert browser.get("/admin/dashboard?days=30").status_code == 200
    bad = browser.get("/admin/dashboard?days=9999")
    assert bad.status_code == 400 and 'role="alert"' in bad.get_data(as_text=True)


@pytest.mark.parametrize(("query", "status"), [("", 200), ("?days=7", 200), ("?days=30", 200),
                                               ("?days=31", 422), ("?days=x", 422),
                                               ("?days=-7", 422)])
def test_api(app: Flask, platform, query, status) -> None:
    client = app.test_client()
    token = api_token(client, platform, make_local_staff(platform, "aud", [Role.AUDITOR]))
    resp = client.get(f"/api/v1/admin/dashboard{query}",
                      headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == status
    if status == 200:
        body = resp.json
        assert len(body["days"]) == (int(query[6:]) if query else 14)
        assert set(body) == {"days", "registrations_by_channel", "logins_by_method",
                             "failed_logins_and_lockouts", "bans"}
        assert body["bans"] == {"ban": [0] * len(body["days"]),
                                "unban": [0] * len(body["days"])}
