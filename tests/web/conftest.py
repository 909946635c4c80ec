"""Helpers for the login pages and account centre tests."""

from __future__ import annotations

import re

import pyotp
import pytest
from flask.testing import FlaskClient

from idp.accounts.sessions import COOKIE_NAME

CSRF = "test-csrf-token"


def with_csrf(client: FlaskClient) -> FlaskClient:
    """Put a known CSRF token in the client's session (idp/csrf.py keeps it there)."""
    with client.session_transaction() as s:
        s["csrf"] = CSRF
    return client


def post(client: FlaskClient, url: str, data: dict | None = None, **kw):  # type: ignore[no-untyped-def]
    with_csrf(client)
    return client.post(url, data={"csrf_token": CSRF, **(data or {})}, **kw)


def login(client: FlaskClient, identifier: str, password: str, url: str = "/login"):  # type: ignore[no-untyped-def]
    return post(client, url, {"identifier": identifier, "password": password})


def sso_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie(COOKIE_NAME)
    return cookie.value if cookie else None


def last_code(platform, phone: str) -> str:  # type: ignore[no-untyped-def]
    text = platform.sms.messages(phone)[0].text
    found = re.search(r"(\d{6})", text)
    assert found, text
    return found.group(1)


def totp_now(secret: str, offset_steps: int = 0) -> str:
    import time

    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


@pytest.fixture
def signed_in(client, citizen):  # type: ignore[no-untyped-def]
    resp = login(client, citizen.id_number, citizen.password)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return citizen


def audit_actions(platform) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(action, outcome) of every audit record, oldest first."""
    from sqlalchemy import select

    from idp.audit.models import AuditRecord

    with platform.db.session() as db:
        rows = db.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
        return [(r.action, r.outcome) for r in rows]


def audit_details(platform) -> list[dict]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from idp.audit.models import AuditRecord

    with platform.db.session() as db:
        return [dict(r.details) for r in
                db.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()]


def make_tx(platform, **fields):  # type: ignore[no-untyped-def]
    values = dict(client_id="c-social", client_name="社会保障服务", params={"scope": "openid"})
    values.update(fields)
    return platform.login_txs.create(**values)


class Waiting:
    """An authorization request waiting for the login pages, started at /authorize."""

    def __init__(self, client: FlaskClient, platform, client_fields: dict | None = None,  # type: ignore[no-untyped-def]
                 **extra: str) -> None:
        from tests.oidc.helpers import Pkce, auth_params, authorize, register

        self.rp = register(platform, **(client_fields or {}))
        self.pkce = Pkce()
        self.params = auth_params(self.rp, self.pkce, **extra)
        resp = authorize(client, self.params)
        assert resp.status_code == 302 and resp.location.startswith("/login?tx="), resp.location
        self.tx = platform.login_txs.load(resp.location.split("tx=")[1])
        assert self.tx is not None

    def code_in(self, resp) -> str:  # type: ignore[no-untyped-def]
        """The code of the client's redirect ``resp`` (asserting it is that redirect, a 303
        after the login step's POST)."""
        from tests.oidc.helpers import query

        assert resp.status_code == 303, resp.get_data(as_text=True)
        assert resp.location.startswith(self.rp.redirect_uri + "?"), resp.location
        got = query(resp.location)
        assert got["state"] == self.params["state"] and "error" not in got, got
        return got["code"]


def enable_totp(platform, person_id: int) -> str:  # type: ignore[no-untyped-def]
    """Enrol and confirm TOTP for a person directly through the service; return the secret."""
    from idp.accounts.totp import Totp

    with platform.db.session() as db:
        from idp.accounts.models import Person

        person = db.get(Person, person_id)
        service = Totp(db, platform.protector, platform.settings.secret_key)
        secret = service.begin(person)
        # Confirm with the previous step's code so the current one stays usable in the test.
        assert service.confirm(person, totp_now(secret, -1)) is not None
        return secret
