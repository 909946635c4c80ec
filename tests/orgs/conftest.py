"""Fixtures for the opening flows: the simulator as a real HTTP server, a test PKI, an
e-licence issuer key, the platform's own app, and representatives matching the seed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from simulator import SimConfig, create_app
from tests.orgs.pki import Pki
from tests.simulator.server import CLIENT_ID, KEY, SLOW_SECONDS, Running, running

APP_ID = "gov-app"
# Seeded enterprises of simulator/business.py and their representatives (simulator/people.py).
E01 = dict(code="91350200MA2XK7L02E", name="厦门鹭江数字科技有限公司")
E02 = dict(code="91110101MA01BC238T", name="北京长安商贸有限公司")
E05_REVOKED = "92440305L12345674M"
E07_DOWN = "91350102MA8DN0025G"
UNREGISTERED = "91350100M000100Y43"
LIU_YANG = dict(name="刘洋", id_number="350203198806300157", phone="13800138004")  # rep of E01
ZHANG_WEI = dict(name="张伟", id_number="110101198503120017", phone="13800138001")  # E02
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


@pytest.fixture(scope="session")
def simulator() -> Iterator[Running]:
    app = create_app(config=SimConfig(key=KEY, client_id=CLIENT_ID, slow_seconds=SLOW_SECONDS))
    with running(app) as sim:
        yield sim


@pytest.fixture(autouse=True)
def _authorities_ok(simulator: Running) -> Iterator[None]:
    simulator.sim.modes.set("all", "ok")
    yield
    simulator.sim.modes.set("all", "ok")


@pytest.fixture(scope="session")
def pki() -> Pki:
    return Pki()


@pytest.fixture(scope="session")
def issuer_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"alg": "ES256", "kid": "elic-1"})


@dataclass
class Files:
    crl_dir: Path

    def set_revoked(self, pki: Pki, revoked: list[Any]) -> None:
        for i, raw in enumerate(pki.crls(revoked)):
            (self.crl_dir / f"{i}.crl").write_bytes(raw)


@pytest.fixture
def files(tmp_path: Path, pki: Pki) -> Files:
    f = Files(tmp_path)
    f.set_revoked(pki, [])
    return f


@pytest.fixture
def settings_overrides(simulator: Running, pki: Pki, issuer_key: ECKey,
                       files: Files) -> dict[str, Any]:
    return dict(authority_url=simulator.url, authority_client_id=CLIENT_ID, authority_key=KEY,
                authority_read_timeout_ms=2000, qr_app_clients=APP_ID,
                elicence_issuer_jwks=json.dumps({"keys": [issuer_key.as_dict(private=False)]}),
                elicence_issuer="https://elicence.example.gov.cn",
                org_ca_roots=pki.root.pem,
                org_crl_sources=f"{files.crl_dir / '0.crl'} {files.crl_dir / '1.crl'}")


def elicence_token(key: ECKey, *, code: str = E01["code"], name: str = E01["name"],
                   representative: str = "刘洋", exp_in: int = 600,
                   iss: str = "https://elicence.example.gov.cn", **extra: Any) -> str:
    now = int(time.time())
    claims = {"iss": iss, "iat": now, "exp": now + exp_in, "credit_code": code, "name": name,
              "kind": "enterprise", "representative": representative, **extra}
    return jws.serialize_compact({"alg": "ES256", "kid": "elic-1"},
                                 json.dumps(claims, ensure_ascii=False).encode(), key)


@pytest.fixture
def liu(make_citizen):  # type: ignore[no-untyped-def]
    return make_citizen(**LIU_YANG)


@pytest.fixture
def zhang(make_citizen):  # type: ignore[no-untyped-def]
    return make_citizen(**ZHANG_WEI)
