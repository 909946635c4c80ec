"""A Host header the URL map cannot bind (too long, bad port, non-ASCII) gets a 400, never a
500: werkzeug refuses it before routing, and the error page must not need to build links."""

from __future__ import annotations

import pytest

HOSTS = {"long-label": "a" * 8000, "long-name": ".".join(["b" * 60] * 40),
         "bad-port": "idp.example:99999999", "spaces": "bad host", "non-ascii": "身份.example"}
ENDPOINTS = [("POST", "/token"), ("GET", "/login"), ("POST", "/login"), ("GET", "/userinfo"),
             ("POST", "/introspect"), ("GET", "/api/v1/me"), ("GET", "/authorize")]


@pytest.mark.parametrize("host", HOSTS.values(), ids=HOSTS.keys())
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_unroutable_host_is_a_clear_400(app, method: str, path: str, host: str) -> None:  # type: ignore[no-untyped-def]
    app.testing = False  # errors answered by the handlers, as in production
    resp = app.test_client().open(path, method=method, headers={"Host": host},
                                  data={"grant_type": "client_credentials"})
    body = resp.get_data(as_text=True)
    assert resp.status_code < 500, (resp.status_code, body[:300])
    assert "Traceback" not in body
