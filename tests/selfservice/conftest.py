"""Fixtures for self-service tests: the platform's own app, tokens, back-channel capture."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import update

from idp.oidc import logout
from idp.oidc.models import Client
from tests.oidc.helpers import Pkce, Rp, register, sign_in, tokens
from tests.web.conftest import CSRF, with_csrf

APP_ID = "gov-app"  # the platform's own mobile app (setting ``qr_app_clients``)
BCL = "https://rp.example.gov.cn/backchannel"
NEW_PHONE = "13900139000"


@pytest.fixture
def settings_overrides() -> dict:  # type: ignore[type-arg]
    return {"qr_app_clients": APP_ID}


@pytest.fixture
def posted(monkeypatch):  # type: ignore[no-untyped-def]
    """Capture back-channel logout POSTs instead of sending them (tests/oidc/test_logout.py)."""
    sent: list[tuple[str, str]] = []

    class Ok:
        status_code = 200

    def fake_post(url, data=None, timeout=None, allow_redirects=True):  # type: ignore[no-untyped-def]
        sent.append((url, data["logout_token"]))
        return Ok()

    monkeypatch.setattr(logout.requests, "post", fake_post)
    return sent


def own_app(platform) -> Rp:  # type: ignore[no-untyped-def]
    """Register the platform's own app under the id the settings trust."""
    rp = register(platform, name="政务服务App")
    with platform.db.session() as db:
        db.execute(update(Client).where(Client.client_id == rp.client_id)
                   .values(client_id=APP_ID))
    return Rp(APP_ID, rp.secret)


@dataclass
class AppUser:
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def app_user(client, platform, citizen) -> AppUser:  # type: ignore[no-untyped-def]
    """The citizen signed in on the platform's own app: a bearer token for ``/api/v1/me``."""
    rp = own_app(platform)
    sign_in(client, platform, citizen)
    return AppUser(tokens(client, rp, Pkce())["access_token"])


def page_post(client, url: str, data: dict | None = None, **kw):  # type: ignore[no-untyped-def]
    with_csrf(client)
    return client.post(url, data={"csrf_token": CSRF, **(data or {})}, **kw)


def codes(platform, phone: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every 6-digit code sent to ``phone``, newest first."""
    found = []
    for m in platform.sms.messages(phone):
        match = re.search(r"验证码为(\d{6})", m.text)
        if match:
            found.append(match.group(1))
    return found


def templates(platform, phone: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.template for m in platform.sms.messages(phone)]


def ticket_of(html: str) -> str:
    found = re.search(r'name="ticket" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"
