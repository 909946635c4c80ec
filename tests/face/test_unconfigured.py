"""Face login with no face service configured, or one that cannot be reached (R-33)."""

from __future__ import annotations

import io
import socket

import pytest

from tests.face.conftest import JPEG, ZHANG_WEI, csrf_of
from tests.simulator.server import CLIENT_ID, KEY


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def settings_overrides():
    return {}


def test_without_authorities_page_points_to_other_methods(client):
    html = client.get("/login/face").get_data(as_text=True)
    assert "人脸核验服务暂时不可用" in html and 'name="photo"' not in html


def test_unreachable_face_service_is_a_clear_503(app, client, platform, make_citizen):
    import dataclasses

    platform.settings = dataclasses.replace(
        platform.settings, authority_url=f"http://127.0.0.1:{_closed_port()}",
        authority_key=KEY, authority_client_id=CLIENT_ID)
    platform.services.pop("sources", None)
    make_citizen(**ZHANG_WEI)
    resp = client.post("/login/face", content_type="multipart/form-data", data={
        "csrf_token": csrf_of(client), "id_number": ZHANG_WEI["id_number"],
        "photo": (io.BytesIO(JPEG), "me.jpg")})
    assert resp.status_code == 503
    assert "人脸核验服务暂时不可用" in resp.get_data(as_text=True)
