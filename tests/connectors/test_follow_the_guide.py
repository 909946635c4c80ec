"""Acceptance (issue 7): a developer following only docs/integration/zh-CN.md connects a fresh
Flask application, step by step, and it works.

Real processes over real HTTP: the platform (`idp demo`), the guide's own ``idp clients
create`` command, the guide's ``app.py`` started with the guide's shell commands. The only
edits are the ones the guide asks the reader to make: the platform's address, the app's port,
and the credentials printed by step 2.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from demo.seed import DEMO_CITIZEN
from idp.serve import free_port, wait_for_port
from tests.connectors.guide import steps
from tests.e2e.stack import DemoStack, forms_of, login_form, pass_consent, submit

BIN = str(Path(sys.executable).parent)
GUIDE_ISSUER = "https://idp.example.gov.cn"
GUIDE_APP = "http://127.0.0.1:8000"


def bash(script: str, env: dict[str, str], cwd: Path, **kwargs: object) -> object:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120, **kwargs)


def test_guide_has_five_numbered_steps() -> None:
    found = steps()
    assert sorted(found) == [1, 2, 3, 4]
    assert found[3].title == "app.py" and found[3].language == "python"
    assert "idp clients create" in found[2].code and "--json" in found[2].code
    assert "<第 2 步输出的 client_id>" in found[4].code


@pytest.fixture(scope="module")
def guide_app(demo_stack: DemoStack, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[str]:
    """Steps 1-4 done as written; yields the running app's base URL."""
    found = steps()
    work = tmp_path_factory.mktemp("guide-app")
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    env = {**demo_stack.env, "IDP_DEBUG": "true", "IDP_ISSUER": demo_stack.issuer,
           "PATH": f"{BIN}:{os.environ['PATH']}"}
    # Step 1: `pip install` — the connector is installed in this venv (editable); the test
    # checks what the step promises instead of reaching the network.
    assert "idp-connector" in found[1].code
    subprocess.run([sys.executable, "-c", "import idp_connector.flask"], check=True)
    # Step 2: register exactly as shown, on the app's real port.
    done = bash(found[2].code.replace(GUIDE_APP, app_url), env, work)
    assert done.returncode == 0, done.stderr  # type: ignore[attr-defined]
    creds = json.loads(done.stdout)  # type: ignore[attr-defined]
    # Step 3: the app, verbatim.
    (work / found[3].title).write_text(found[3].code, encoding="utf-8")
    # Step 4: configure and start, with the reader's substitutions.
    script = (found[4].code.replace(GUIDE_ISSUER, demo_stack.issuer)
              .replace(GUIDE_APP, app_url).replace("--port 8000", f"--port {port}")
              .replace("<第 2 步输出的 client_id>", creds["client_id"])
              .replace("<第 2 步输出的 client_secret>", creds["client_secret"]))
    app_env = {k: v for k, v in env.items() if not k.startswith("IDP_")}
    log = (work / "app.log").open("wb")
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], env=app_env, cwd=work,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        demo_stack.client_id = creds["client_id"]  # type: ignore[attr-defined]
        yield app_url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
        log.close()


def sign_in(browser: requests.Session, app_url: str) -> requests.Response:
    """Step 5: click the sign-in link and use the platform's real login form."""
    home = browser.get(f"{app_url}/", timeout=20)
    assert "使用统一身份认证登录" in home.text
    page = browser.get(f"{app_url}/oidc/login", timeout=20)
    form = login_form(page)
    assert form is not None, f"no login form at {page.url}"
    page = submit(browser, page, form, identifier=DEMO_CITIZEN["id_number"],
                  password=DEMO_CITIZEN["password"])
    return pass_consent(browser, page)


def test_fresh_flask_app_signs_in_and_out_as_the_guide_says(guide_app: str) -> None:
    browser = requests.Session()
    page = sign_in(browser, guide_app)
    assert page.url == f"{guide_app}/", page.text[:500]
    assert "您好，张三（实名等级 2）" in page.text  # scope realname: the full name

    profile = browser.get(f"{guide_app}/profile", timeout=10).json()
    assert profile["acr"] == "urn:idp:acr:realname:2" and "pwd" in profile["amr"]
    cert = browser.get(f"{guide_app}/certificate", timeout=10)
    assert cert.status_code == 200 and cert.json()["level"] == 2

    [form] = [f for f in forms_of(page.text) if f.action.endswith("/oidc/logout")]
    page = submit(browser, page, form)
    if not page.url.startswith(guide_app):  # the platform may ask to confirm the logout
        confirm = [f for f in forms_of(page.text) if f.method == "post"]
        page = submit(browser, page, confirm[0]) if confirm else page
    assert page.url.startswith(f"{guide_app}/")
    assert "使用统一身份认证登录" in page.text
    # Signed out of the platform too: signing in again shows the password form.
    again = browser.get(f"{guide_app}/oidc/login", timeout=20)
    assert login_form(again) is not None


def test_protected_page_sends_a_stranger_to_the_platform(guide_app: str) -> None:
    resp = requests.get(f"{guide_app}/profile", timeout=10, allow_redirects=False)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/oidc/login?next=/profile")


def test_self_check_passes_for_the_guide_app(guide_app: str, demo_stack: DemoStack) -> None:
    """docs/integration §11: the registration of step 2 passes `idp integration check`."""
    done = demo_stack.idp("integration", "check", demo_stack.client_id,  # type: ignore[attr-defined]
                          "--json")
    report = json.loads(done.stdout)
    assert report["ok"] is True
    rules = {c["rule"] for c in report["checks"]}
    assert "backchannel:rejects-invalid" in rules and "redirect:https" in rules
