"""Face login against the bundled authority simulator, served over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator import create_app as create_simulator
from tests.simulator.server import CLIENT_ID, KEY, Running, running

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 256
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 256
# Seeded people (docs/authorities.md): P01 matches, P12 mismatches, P13 fails liveness,
# P15's every check answers 503.
ZHANG_WEI = dict(id_number="110101198503120017", name="张伟", phone="13800138001")
SUN_HAO = dict(id_number="12010119911212093X", name="孙浩", phone="13800138012")
ZHU_LIN = dict(id_number="43010219930303104X", name="朱琳", phone="13800138013")
GUO_MIN = dict(id_number="110105199606061267", name="郭敏", phone="13800138015")


@pytest.fixture(scope="session")
def simulator() -> Iterator[Running]:
    with running(create_simulator(key=KEY, client_id=CLIENT_ID)) as server:
        yield server


@pytest.fixture
def settings_overrides(simulator: Running) -> dict:  # type: ignore[type-arg]
    return {"authority_url": simulator.url, "authority_key": KEY,
            "authority_client_id": CLIENT_ID, "face_failures_per_document": 3}


def csrf_of(browser) -> str:  # type: ignore[no-untyped-def]
    browser.get("/login/face")
    with browser.session_transaction() as sess:
        return str(sess["csrf"])
