"""The platform as a real HTTP server (this process, so a test can ban someone the way the
console will), and the gateway site (nginx + gateway + legacy app as real processes)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from idp.platform import Platform
from idp.serve import free_port
from tests.gateway.stack import GatewaySite, gateway_site
from tests.live import live_fixtures
from tests.oidc.helpers import register

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "connectors" / "gateway"))

PORT, ISSUER, settings_overrides, live_server = live_fixtures()


@pytest.fixture
def gateway_options() -> dict[str, str]:
    """Extra IDP_GW_* settings (lower-case names without the prefix); override per module."""
    return {}


@pytest.fixture
def site(live_server: str, platform: Platform,
         gateway_options: dict[str, str]) -> Iterator[GatewaySite]:
    """A registered confidential client whose URIs all point at nginx."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    rp = register(platform, name="老旧业务系统", redirect_uris=[f"{public}/_gw/callback"],
                  grant_types=["authorization_code"], scope="openid profile",
                  post_logout_redirect_uris=[f"{public}/_gw/signed-out"],
                  backchannel_logout_uri=f"{public}/_gw/backchannel-logout")
    assert rp.secret
    with gateway_site(live_server, rp.client_id, rp.secret, port=port,
                      **gateway_options) as running:
        running.client_id = rp.client_id  # type: ignore[attr-defined]
        yield running
