"""Registration tests run against the bundled authority simulator as a real HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from idp.accounts.models import Person
from idp.audit.models import AuditRecord
from simulator import SimConfig, create_app
from tests.simulator.server import CLIENT_ID, KEY, SLOW_SECONDS, Running, running

# Seeded people of docs/authorities.md, with the factors the tests submit.
P01 = dict(name="张伟", id_type="resident_id", id_number="110101198503120017",
           phone="13800138001", bank="6217000000000000012", social="A10000001",
           fund="310000000013", licence="110000000007")
P02 = dict(name="王芳", id_type="resident_id", id_number="31010119900521002X",
           phone="13800138002", bank="6217000000000000020", social="A10000002",
           fund="310000000026", licence="110000000014")
P03 = dict(name="李娜", id_type="resident_id", id_number="440305199211080241",
           phone="13800138003", bank="6217000000000000038", social="A10000003",
           fund="310000000039", licence="110000000021")
P10_DECEASED = dict(name="吴刚", id_type="resident_id", id_number="370202194501010713")
P11_CANCELLED = dict(name="徐丽", id_type="resident_id", id_number="50010319860808082X")
PASSWORD = "Reg1ster-Passw0rd"
TP_CLIENT = ("idp-linked", "linked-secret-change-me")


@pytest.fixture(scope="session")
def simulator() -> Iterator[Running]:
    app = create_app(config=SimConfig(key=KEY, client_id=CLIENT_ID,
                                      slow_seconds=SLOW_SECONDS))
    with running(app) as sim:
        yield sim


@pytest.fixture(autouse=True)
def _authorities_ok(simulator: Running) -> Iterator[None]:
    simulator.sim.modes.set("all", "ok")
    yield
    simulator.sim.modes.set("all", "ok")


@pytest.fixture
def settings_overrides(simulator: Running) -> dict[str, Any]:
    return dict(authority_url=simulator.url, authority_client_id=CLIENT_ID, authority_key=KEY,
                authority_read_timeout_ms=2000, trusted_platforms=json.dumps([{
                    "name": "sim", "label": "可信平台(模拟)", "issuer": simulator.url + "/oidc",
                    "client_id": TP_CLIENT[0], "client_secret": TP_CLIENT[1],
                    "levels": {"loa-3": 2, "loa-2": 1}}]))


def start_body(person: dict[str, str], channel: str = "app") -> dict[str, str]:
    return {k: person[k] for k in ("name", "id_type", "id_number")} | {"channel": channel}


def api_start(client: FlaskClient, person: dict[str, str]) -> str:
    resp = client.post("/api/v1/registrations", json=start_body(person))
    assert resp.status_code == 201, resp.get_json()
    return str(resp.get_json()["id"])


FACTOR_BODIES = {
    "social_security": lambda p: {"card_number": p["social"]},
    "provident_fund": lambda p: {"account_number": p["fund"]},
    "driving_licence": lambda p: {"file_number": p["licence"]},
    "bank_card": lambda p: {"card_number": p["bank"], "phone": p["phone"]},
}


def api_factor(client: FlaskClient, reg_id: str, factor: str, person: dict[str, str]) -> Any:
    return client.post(f"/api/v1/registrations/{reg_id}/factors/{factor}",
                       json=FACTOR_BODIES[factor](person))


def persons(platform: Any) -> int:
    with platform.db.session() as db:
        return int(db.scalar(select(func.count()).select_from(Person)) or 0)


def audit_rows(platform: Any, action: str | None = None) -> list[AuditRecord]:
    with platform.db.session() as db:
        query = select(AuditRecord).order_by(AuditRecord.seq)
        if action:
            query = query.where(AuditRecord.action == action)
        return list(db.scalars(query).all())
