"""QR code creation is limited per source address (R-30, R-70)."""

from __future__ import annotations

import pytest


@pytest.fixture
def settings_overrides():
    return {"qr_tickets_per_address": 3}


def test_ticket_creation_is_rate_limited_per_address(client):
    for _ in range(3):
        assert client.get("/login/qr").status_code == 200
    resp = client.get("/login/qr")
    assert resp.status_code == 429 and "data-ticket" not in resp.get_data(as_text=True)
