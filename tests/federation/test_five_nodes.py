"""Issue 6 acceptance: five real nodes on loopback, driven in Chromium as a new user would.

national; province A + city A1 (separate); province B (separate) + city B1
(unified_separate) — each an ``idp serve`` process with its own SQLite database, wired with
``idp init``, ``idp federation init`` and ``add-child``. A department system of B1 (a small
Flask app in this process) has back-channel logout. P is created at A1 with level 2, signs
into B1's system through B and A1 without registering again, is offered the existing account
when trying to register at B; a ban at A1 ends P's session at B1 within seconds and the
system gets a back-channel logout; an unban restores access; B down while A1 bans catches
up when it returns. Bans are made by staff at A1 through `idp.accounts.bans` against A1's
database (what the console does), so A1's own server delivers the events from its outbox.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask, request
from sqlalchemy import create_engine, text

from idp.accounts import bans
from idp.federation import outbox
from idp.platform import Platform
from idp.serve import free_port, wait_for_port
from idp.settings import Settings
from tests.admin.bans_helpers import staff_member
from tests.federation.harness import DIRECTORY_KEY, prepare_database
from tests.live import serving

# Five server processes and Chromium on a loaded 2-core machine: more than the default 120 s.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
IDP = str(Path(sys.executable).parent / "idp")
NUMBER, PASSWORD, NAME = "35020319900101123X", "Lin-Passw0rd-1", "林小明"
ANCHOR = "anchor.json"


@dataclass
class ProcNode:
    """One node: its environment, database and ``idp serve`` process."""

    name: str
    port: int
    root: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_url(self) -> str:
        return self.env["IDP_DATABASE_URL"]

    def idp(self, *args: str) -> str:
        done = subprocess.run([IDP, *args], env=self.env, capture_output=True, text=True,
                              timeout=90, cwd=ROOT)
        assert done.returncode == 0, f"{self.name}: idp {' '.join(args)}\n{done.stderr}"
        return done.stdout

    def start(self) -> None:
        log = (self.root / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(
            [IDP, "serve", "--server", "dev", "--port", str(self.port)], env=self.env,
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None

    def query(self, sql: str, **params: Any) -> list[Any]:
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), params))
        finally:
            engine.dispose()

    def platform(self) -> Platform:
        """The node's ports in this process, as an ``idp`` command or the console has them."""
        env = {k: v for k, v in self.env.items() if k.startswith("IDP_")}
        platform = Platform.build(Settings.from_env(env))
        outbox.install(platform)
        return platform


PLAN = [  # name, level, region, parent, mode
    ("national", "national", "000000", None, "separate"),
    ("prov-a", "province", "350000", "national", "separate"),
    ("city-a1", "city", "350200", "prov-a", "separate"),
    ("prov-b", "province", "440000", "national", "separate"),
    ("city-b1", "city", "440300", "prov-b", "unified_separate"),
]


def _env(root: Path, name: str, port: int, level: str, region: str, parent: str,
         mode: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update({
        "IDP_DEBUG": "true", "IDP_SECURE_COOKIES": "false",
        "IDP_ISSUER": f"http://127.0.0.1:{port}", "IDP_VAR_DIR": str(root / name),
        "IDP_DATABASE_URL": f"sqlite:///{root / name}.sqlite3",
        "IDP_ARGON2_MEMORY_KIB": "1024", "IDP_ARGON2_TIME_COST": "1",
        "IDP_FEDERATION_LEVEL": level, "IDP_FEDERATION_REGION": region,
        "IDP_FEDERATION_PARENT": parent, "IDP_FEDERATION_MODE": mode,
        "IDP_FEDERATION_DIRECTORY_KEY": DIRECTORY_KEY, "IDP_FEDERATION_ALLOW_HTTP": "true",
        "IDP_FEDERATION_HTTP_TIMEOUT": "3", "IDP_FEDERATION_OUTBOX_INTERVAL": "1",
        "IDP_FEDERATION_OUTBOX_RETRY_BASE": "1", "IDP_FEDERATION_OUTBOX_RETRY_MAX": "2",
    })
    if level != "national":
        env["IDP_FEDERATION_ANCHOR_JWKS"] = str(root / ANCHOR)
    return env


def _jwks_of(output: str) -> dict[str, Any]:
    """The JWKS `idp federation init` prints between its comment lines."""
    body = "\n".join(line for line in output.splitlines() if not line.startswith("#")
                     and "=" not in line.split("{")[0])
    return json.loads(body[body.index("{"):body.rindex("}") + 1])


def _parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


@dataclass
class Department:
    """B1's department system: its callback and back-channel logout endpoint."""

    url: str
    client_id: str = ""
    secret: str = ""
    logouts: list[str] = field(default_factory=list)

    @property
    def callback(self) -> str:
        return self.url + "/callback"


def _department_app(dept: Department) -> Flask:
    app = Flask("b1-department")

    @app.get("/callback")
    def callback() -> str:
        return "ok"

    @app.post("/backchannel")
    def backchannel() -> tuple[str, int]:
        dept.logouts.append(request.form.get("logout_token", ""))
        return "", 200

    return app


@pytest.fixture(scope="module")
def five(tmp_path_factory) -> Iterator[tuple[dict[str, ProcNode], Department]]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("five")
    port_list = [free_port() for _ in range(len(PLAN) + 1)]
    nodes: dict[str, ProcNode] = {}
    for (name, level, region, parent, mode), port in zip(PLAN, port_list, strict=False):
        parent_url = nodes[parent].url if parent else ""
        nodes[name] = ProcNode(name, port, root, _env(root, name, port, level, region,
                                                        parent_url, mode))
    dept = Department(f"http://127.0.0.1:{port_list[-1]}")

    def init(name: str, level: str, region: str, parent: str | None, mode: str) -> None:
        node = nodes[name]
        prepare_database(node.db_url)  # a migrated copy: `idp init` then only adds its keys
        node.idp("init")
        args = ["federation", "init", "--level", level, "--region", region, "--mode", mode]
        if parent:
            args += ["--parent", nodes[parent].url, "--anchor-jwks", str(root / ANCHOR)]
        (root / f"{name}.jwks.json").write_text(json.dumps(_jwks_of(node.idp(*args))))

    init(*PLAN[0])
    (root / ANCHOR).write_text((root / "national.jwks.json").read_text())
    _parallel([lambda p=p: init(*p) for p in PLAN[1:]])

    def vouch(parent: str, children: list[str]) -> None:
        for child in children:
            region = next(p[2] for p in PLAN if p[0] == child)
            nodes[parent].idp("federation", "add-child", nodes[child].url, "--region", region,
                              "--jwks", str(root / f"{child}.jwks.json"))

    _parallel([lambda: vouch("national", ["prov-a", "prov-b"]),
               lambda: vouch("prov-a", ["city-a1"]), lambda: vouch("prov-b", ["city-b1"])])
    created = json.loads(nodes["city-b1"].idp(
        "clients", "create", "--name", "B1 部门系统", "--redirect-uri", dept.callback,
        "--backchannel-logout-uri", dept.url + "/backchannel", "--scope",
        "openid profile realname", "--skip-consent", "--json"))
    dept.client_id, dept.secret = created["client_id"], created["client_secret"]
    for node in nodes.values():
        node.start()
    try:
        for node in nodes.values():
            wait_for_port("127.0.0.1", node.port, timeout=60)
        with serving(_department_app(dept), port_list[-1]):
            yield nodes, dept
    finally:
        for node in nodes.values():
            node.stop()


def eventually(check: Callable[[], Any], seconds: float = 20, what: str = "") -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds}s: {what}")
        time.sleep(0.25)


def person_status(node: ProcNode) -> str | None:
    rows = node.query("SELECT status FROM person")
    return rows[0][0] if rows else None


def ban_at(node: ProcNode) -> None:
    platform = node.platform()
    try:
        by = staff_member(platform, "a1-manager")
        with platform.db.session() as session:
            person_id = session.execute(text("SELECT id FROM person")).scalar_one()
            bans.ban(platform, session, person_id, by=by, reason="冒用他人身份",
                     legal_basis="实名制管理办法", address="127.0.0.1")
    finally:
        platform.db.dispose()


def unban_at(node: ProcNode) -> None:
    platform = node.platform()
    try:
        asker = staff_member(platform, "a1-manager")
        head = staff_member(platform, "a1-head", roles=("head",))
        with platform.db.session() as session:
            person_id = session.execute(text("SELECT id FROM person")).scalar_one()
            bans.request_unban(session, person_id, by=asker, reason="核实为本人操作",
                               address="127.0.0.1")
        with platform.db.session() as session:
            bans.decide_unban(platform, session, person_id, by=head, approve=True,
                              reason="", address="127.0.0.1")
    finally:
        platform.db.dispose()


def authorize_url(b1: ProcNode, dept: Department, **extra: str) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": dept.client_id,
              "redirect_uri": dept.callback, "scope": "openid profile realname",
              "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
              "code_challenge": challenge, "code_challenge_method": "S256", **extra}
    return f"{b1.url}/authorize?{urlencode(params)}", verifier


def sign_in_at_b1(tab, nodes: dict[str, ProcNode], dept: Department) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Chromium: B1's system → B's login → "registered elsewhere" → A1's login → back."""
    url, verifier = authorize_url(nodes["city-b1"], dept)
    tab.goto(url)
    tab.click("#federated-login")
    tab.fill("#doc-number", NUMBER)
    tab.click("#federated-continue")
    tab.wait_for_url(lambda u: u.startswith(dept.callback)
                     or u.startswith(nodes["city-a1"].url + "/login"))
    if tab.url.startswith(nodes["city-a1"].url):  # at home: P's usual password login
        tab.fill("input[name=identifier]", NUMBER)
        tab.fill("input[name=password]", PASSWORD)
        tab.click("form.form button[type=submit]")
        tab.wait_for_url(lambda u: u.startswith(dept.callback))
    code = parse_qs(urlsplit(tab.url).query)["code"][0]
    tokens = requests.post(f"{nodes['city-b1'].url}/token", auth=(dept.client_id, dept.secret),
                           data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": dept.callback, "code_verifier": verifier},
                           timeout=10)
    assert tokens.status_code == 200, tokens.text
    info = requests.get(f"{nodes['city-b1'].url}/userinfo", timeout=10, headers={
        "Authorization": f"Bearer {tokens.json()['access_token']}"})
    assert info.status_code == 200, info.text
    return {**tokens.json(), "userinfo": info.json()}


def test_five_nodes_register_once_recognised_everywhere(five, page) -> None:  # type: ignore[no-untyped-def]
    nodes, dept = five
    a1, b, b1 = nodes["city-a1"], nodes["prov-b"], nodes["city-b1"]
    # P has an account at A1 only (level 2); A1's outbox registers it up the directory.
    a1.idp("accounts", "create", "--id-number", NUMBER, "--name", NAME, "--phone",
           "13900139000", "--password", PASSWORD, "--level", "2")
    eventually(lambda: nodes["national"].query("SELECT home_node FROM federation_directory"),
               what="the national directory knows P's home")
    assert nodes["national"].query("SELECT home_node FROM federation_directory")[0][0] == a1.url

    # 1. Signs into B1's department system without registering again; level 2 from A1.
    got = sign_in_at_b1(page, nodes, dept)
    assert got["userinfo"]["realname_level"] == 2 and got["userinfo"]["name"] == NAME
    assert b.query("SELECT channel FROM person")[0][0] == "federated"
    assert b1.query("SELECT count(*) FROM person")[0][0] == 1

    # 2. Trying to register at B: offered the existing account instead.
    page.goto(f"{b.url}/register")
    page.fill("input[name=name]", NAME)
    page.fill("input[name=id_number]", NUMBER)
    page.click("form.form button[type=submit]")
    assert page.locator("#use-existing-account").is_visible()

    # 3. A ban at A1 ends the session at B1 within seconds; B1's system is told.
    ban_at(a1)
    logout = eventually(lambda: dept.logouts, seconds=15, what="back-channel logout at B1")
    claims = json.loads(base64.urlsafe_b64decode(logout[0].split(".")[1] + "=="))
    assert claims["iss"] == b1.url and claims["aud"] == dept.client_id
    assert person_status(b1) == "banned" and person_status(b) == "banned"
    silent, _ = authorize_url(b1, dept, prompt="none")
    page.goto(silent)
    page.wait_for_url(lambda u: u.startswith(dept.callback))
    assert parse_qs(urlsplit(page.url).query)["error"] == ["login_required"]

    # 4. Unban restores access.
    unban_at(a1)
    eventually(lambda: person_status(b1) == "active", seconds=15, what="unban at B1")
    assert sign_in_at_b1(page, nodes, dept)["userinfo"]["realname_level"] == 2

    # 5. B is down while A1 bans: A1 keeps retrying, B catches up when it returns.
    b.stop()
    before = len(dept.logouts)
    ban_at(a1)
    eventually(lambda: a1.query("SELECT attempts FROM federation_outbox WHERE kind = 'set' "
                                "AND status = 'pending' AND attempts > 0"), seconds=15,
               what="A1 retries the undelivered ban")
    assert person_status(b1) == "active"  # nobody told B1 yet
    b.start()
    wait_for_port("127.0.0.1", b.port, timeout=60)
    eventually(lambda: person_status(b1) == "banned", seconds=20, what="B caught up")
    eventually(lambda: len(dept.logouts) > before, seconds=10, what="second logout")
    assert not a1.query("SELECT id FROM federation_outbox WHERE status != 'delivered'")
