"""The WSGI middleware with private_key_jwt and refresh, against the running platform.

A plain WSGI app (no Flask) behind `IdpMiddleware`, served by werkzeug on a real port; the
client authenticates to the token endpoint with a signed JWT (RFC 7523), the recommended
method for server-side systems (docs/integration §4).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from idp_connector import ConnectorConfig
from idp_connector.wsgi import IdpMiddleware
from joserfc.jwk import ECKey
from werkzeug.serving import make_server

from demo.seed import DEMO_CITIZEN
from idp.serve import free_port
from tests.e2e.stack import DemoStack, login_form, submit


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    user = environ["idp.user"]
    token = environ["idp.access_token"]()
    body = json.dumps({"sub": user.sub if user else None, "level": user.level if user else None,
                       "has_token": bool(token), "csrf": environ["idp.csrf_token"]})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body.encode()]


@pytest.fixture(scope="module")
def wsgi_app(demo_stack: DemoStack, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[str, IdpMiddleware]]:
    key = ECKey.generate_key("P-256", parameters={"kid": "rp-1", "alg": "ES256"}, private=True)
    jwks_file = tmp_path_factory.mktemp("rp") / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    done = demo_stack.idp("clients", "create", "--name", "WSGI 系统",
                          "--redirect-uri", f"{base}/oidc/callback",
                          "--post-logout-redirect-uri", f"{base}/",
                          "--grant-type", "authorization_code", "--grant-type", "refresh_token",
                          "--scope", "openid profile offline_access", "--skip-consent",
                          "--token-auth-method", "private_key_jwt",
                          "--jwks-file", str(jwks_file), "--json")
    client_id = json.loads(done.stdout)["client_id"]
    config = ConnectorConfig(issuer=demo_stack.issuer, client_id=client_id, base_url=base,
                             scope="openid profile offline_access",
                             token_endpoint_auth_method="private_key_jwt",
                             private_key=key.as_dict(private=True))
    mw = IdpMiddleware(hello, config, secret_key="test-secret-key-0123456789",
                       secure_cookie=False, public_paths=("/public",))
    server = make_server("127.0.0.1", port, mw, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base, mw
    server.shutdown()


def test_wsgi_sign_in_with_private_key_jwt_and_refresh(wsgi_app: tuple[str, IdpMiddleware]
                                                       ) -> None:
    base, mw = wsgi_app
    browser = requests.Session()
    assert browser.get(f"{base}/public", timeout=10).json()["sub"] is None
    page = browser.get(f"{base}/account", timeout=20)  # protected: off to the platform
    form = login_form(page)
    assert form is not None, page.url
    page = submit(browser, page, form, identifier=DEMO_CITIZEN["id_number"],
                  password=DEMO_CITIZEN["password"])
    assert page.url == f"{base}/account"
    me = page.json()
    assert me["sub"] and me["level"] == 2 and me["has_token"]

    # Force the access token to look expired: the middleware refreshes it (rotation).
    bag = mw._load(_cookie_request(browser, mw))
    local_id = bag["idp_lsid"]
    data = mw.endpoints.store.get(local_id)
    assert data is not None
    old_refresh = data["refresh_token"]
    mw.endpoints.store.update(local_id, {**data, "expires_at": 0})
    assert browser.get(f"{base}/account", timeout=20).json()["has_token"]
    renewed = mw.endpoints.store.get(local_id)
    assert renewed is not None and renewed["refresh_token"] != old_refresh
    assert renewed["expires_at"] > 0


def test_wsgi_refuses_a_forged_cookie(wsgi_app: tuple[str, IdpMiddleware]) -> None:
    base, _ = wsgi_app
    resp = requests.get(f"{base}/account", cookies={"idp_connector": "forged.value"},
                        allow_redirects=False, timeout=10)
    assert resp.status_code == 302 and "/oidc/login" in resp.headers["Location"]


def _cookie_request(browser: requests.Session, mw: IdpMiddleware) -> Any:
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    value = browser.cookies.get(mw.cookie_name)
    builder = EnvironBuilder(headers={"Cookie": f"{mw.cookie_name}={value}"})
    return Request(builder.get_environ())
