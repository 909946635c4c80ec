"""idp/fastpath.py: the cheaper session interface and ``ensure_sync`` answer exactly as
Flask's own (same cookies, same ``Vary``, same sessions), request after request."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface

from idp.fastpath import CookieSessions, install


def _app(fast: bool) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k1", SESSION_COOKIE_NAME="idp_ui",
                      PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=1))
    if fast:
        install(app)

    @app.get("/none")
    def none() -> str:
        return "none"

    @app.get("/read")
    def read() -> str:
        return str(session.get("x"))

    @app.get("/write")
    def write() -> str:
        session["x"] = "1"
        return "w"

    @app.get("/permanent")
    def permanent() -> str:
        session.permanent = True
        session["y"] = "2"
        return "p"

    @app.get("/clear")
    def clear() -> str:
        session.clear()
        return "c"

    return app


SEQUENCE = ["/none", "/read", "/write", "/none", "/read", "/permanent", "/none", "/read",
            "/clear", "/none", "/read", "/clear"]


def _transcript(app: Flask, rotate: bool = False) -> list[tuple[object, ...]]:
    client = app.test_client()
    out = []
    for i, path in enumerate(SEQUENCE):
        if rotate and i == 4:  # key rotation: the old key becomes a fallback
            app.config.update(SECRET_KEY="k2", SECRET_KEY_FALLBACKS=["k1"])
            app.secret_key = "k2"
        resp = client.get(path)
        # The signed value carries a timestamp: compare its payload (and that it verifies).
        headers = [(k, re.sub(r"=([\w-]+)\.[\w-]+\.[\w-]+", r"=\1", v.split("; Expires=")[0]))
                   for k, v in resp.headers.items()]
        out.append((path, resp.status, headers, resp.get_data()))
    return out


@pytest.mark.parametrize("rotate", [False, True])
def test_same_transcript_as_flask(rotate):
    assert isinstance(_app(True).session_interface, CookieSessions)
    assert not isinstance(_app(False).session_interface, CookieSessions)
    assert _transcript(_app(True), rotate) == _transcript(_app(False), rotate)


def test_bad_and_foreign_cookies():
    for cookie in ("idp_ui=garbage", "other=1", "idp_ui=", "lang=en; idp_ui=x.y.z"):
        got = []
        for fast in (True, False):
            resp = _app(fast).test_client().get("/read", headers={"Cookie": cookie})
            got.append((resp.status, list(resp.headers.items()), resp.get_data()))
        assert got[0] == got[1], cookie


def test_no_secret_key_is_a_null_session_as_in_flask():
    for fast in (True, False):
        app = _app(fast)
        app.secret_key = None
        assert app.test_client().get("/none").status_code == 200
        assert app.test_client().get("/write").status_code == 500  # Flask: null session


def test_serializer_built_once_per_key_list():
    app = _app(True)
    sessions = app.session_interface
    first = sessions.get_signing_serializer(app)
    assert sessions.get_signing_serializer(app) is first
    app.secret_key = "other"
    assert sessions.get_signing_serializer(app) is not first
    assert SecureCookieSessionInterface().get_signing_serializer(app).loads(
        sessions.get_signing_serializer(app).dumps({"a": 1})) == {"a": 1}


def test_ensure_sync_memoised_but_async_still_refused_or_wrapped():
    fast, stock = _app(True), _app(False)

    def plain() -> None: ...

    async def coroutine() -> None: ...

    assert fast.ensure_sync(plain) is plain and fast.ensure_sync(plain) is plain
    for app in (fast, stock):  # Flask wraps (or, without asgiref, refuses) async views
        try:
            wrapped = app.ensure_sync(coroutine)
        except RuntimeError:
            continue
        assert wrapped is not coroutine
