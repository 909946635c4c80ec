"""Two real server processes of one node, sharing PostgreSQL and Redis (issue 2 acceptance).

`Cluster.start()` runs two gunicorn masters (one sync worker each) serving the production
entry point ``idp.wsgi:app`` on two loopback ports, configured only through ``IDP_*``
variables, exactly as behind a load balancer: same issuer, same keys, same database, same
Redis. The test process reaches the same database and store through its own `Platform`
(the "third process" used to seed data and to look inside).

Protocol helpers (`oidc_endpoint`, `authorize_silently`, `sign_in`) speak standard OIDC, so
the tests read as "sign in on A, ask B" whatever the pages look like.
"""

from __future__ import annotations

import base64
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from idp.platform import Platform
from idp.serve import free_port
from idp.settings import Settings
from idp.store import RedisStore

GUNICORN = Path(sys.executable).parent / "gunicorn"
IDP = Path(sys.executable).parent / "idp"
READY_TIMEOUT = 30.0


@dataclass
class Node:
    """One server process: its base URL, its process and its log file."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, http: requests.Session | None = None, **kw) -> requests.Response:  # type: ignore[no-untyped-def]
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", 10)
        return (http or requests).get(urljoin(self.url, path), **kw)

    def post(self, path: str, http: requests.Session | None = None, **kw) -> requests.Response:  # type: ignore[no-untyped-def]
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", 10)
        return (http or requests).post(urljoin(self.url, path), **kw)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Cluster:
    """Two processes A and B of one node, and the environment they share."""

    env: dict[str, str]
    a: Node
    b: Node
    platform: Platform
    nodes: list[Node] = field(default_factory=list)

    @classmethod
    def start(cls, database_url: str, redis_base_url: str, workdir: Path) -> Cluster:
        env = node_environment(database_url, redis_base_url, issuer_port=free_port())
        run_idp(env, "init")  # the deployment's init step: migrate, first signing key
        platform = Platform.build(Settings.from_env(env))
        nodes: list[Node] = []
        try:
            for name in ("A", "B"):
                nodes.append(start_node(name, env, workdir))
            for node in nodes:
                wait_ready(node)
        except BaseException:
            for node in nodes:
                stop_node(node)
            raise
        return cls(env, nodes[0], nodes[1], platform, nodes)

    def stop(self) -> None:
        for node in self.nodes:
            stop_node(node)
        store = self.platform.store
        if isinstance(store, RedisStore):
            store.flush_prefix()
        self.platform.db.dispose()


def node_environment(database_url: str, redis_base_url: str, issuer_port: int) -> dict[str, str]:
    """``IDP_*`` for both processes: fresh production-strength keys, shared everything.

    The store's key prefix is fixed (``idp:``), so the cluster gets a Redis database number
    of its own instead; other tests use database 0 with per-test prefixes.
    """
    redis_url = f"{redis_base_url.rsplit('/', 1)[0]}/{random.randint(1, 15)}"
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("IDP_")},
        "IDP_ISSUER": f"http://127.0.0.1:{issuer_port}",
        "IDP_DATABASE_URL": database_url,
        "IDP_REDIS_URL": redis_url,
        "IDP_SECRET_KEY": secrets.token_urlsafe(48),
        "IDP_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "IDP_TESTING": "true",  # the SMS outbox page, as in every test
        "IDP_SECURE_COOKIES": "false",  # plain HTTP on loopback
        "IDP_ARGON2_MEMORY_KIB": "1024",
        "IDP_ARGON2_TIME_COST": "1",
    }


def run_idp(env: dict[str, str], *args: str) -> str:
    """Run the ``idp`` command with the node's environment; its stdout, or fail loudly."""
    done = subprocess.run([str(IDP), *args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"idp {' '.join(args)} failed ({done.returncode}):\n"
                           f"{done.stdout}{done.stderr}")
    return done.stdout


def start_node(name: str, env: dict[str, str], workdir: Path) -> Node:
    port = free_port()
    log = workdir / f"node-{name}.log"
    argv = [str(GUNICORN), "--bind", f"127.0.0.1:{port}", "--workers", "1",
            "--worker-class", "sync", "--timeout", "30", "--graceful-timeout", "5",
            "--access-logfile", "-", "idp.wsgi:app"]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return Node(name, f"http://127.0.0.1:{port}/", process, log)


def wait_ready(node: Node) -> None:
    """Until the worker answers HTTP at all (any status), or fail with the server's log."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise RuntimeError(f"node {node.name} exited:\n{node.log_tail()}")
        try:
            node.get("/", timeout=5)
            return
        except requests.RequestException:  # not listening yet, or the worker still booting
            time.sleep(0.1)
    raise RuntimeError(f"node {node.name} not ready in {READY_TIMEOUT}s:\n{node.log_tail()}")


def stop_node(node: Node) -> None:
    if node.process.poll() is None:
        node.process.send_signal(signal.SIGTERM)
        try:
            node.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(node.process.pid, signal.SIGKILL)
            node.process.wait(timeout=5)


# ------------------------------------------------------------------ OIDC helpers


def oidc_endpoint(node: Node, name: str) -> str:
    """``name`` (e.g. ``authorization_endpoint``) from discovery, re-based onto ``node``:
    the issuer is the node's public URL, the test talks to one process behind it."""
    meta = node.get("/.well-known/openid-configuration").json()
    path = urlsplit(meta[name]).path
    return urljoin(node.url, path)


def authorize_silently(node: Node, http: requests.Session, client: dict[str, str],
                       redirect_uri: str) -> dict[str, list[str]]:
    """``prompt=none`` authorization request on ``node``; the redirect's query parameters
    (``code`` when the browser has a usable SSO session, ``error=login_required`` if not)."""
    resp = http.get(oidc_endpoint(node, "authorization_endpoint"), allow_redirects=False,
                    timeout=10, params={
                        "response_type": "code", "client_id": client["client_id"],
                        "redirect_uri": redirect_uri, "scope": "openid", "prompt": "none",
                        "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8)})
    assert resp.status_code in (302, 303), (resp.status_code, resp.text[:500])
    location = resp.headers["Location"]
    assert location.startswith(redirect_uri), location
    return parse_qs(urlsplit(location).query)


class FormFinder(HTMLParser):
    """The page's forms: action, inputs and named submit buttons (in page order)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "inputs": [], "buttons": []})
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"].append(a)  # type: ignore[union-attr]
        elif tag == "button" and self.forms and a.get("name"):
            self.forms[-1]["buttons"].append(a)  # type: ignore[union-attr]


def sign_in(node: Node, http: requests.Session, login_url: str, identifier: str,
            password: str) -> requests.Response:
    """Fill the password login form at ``login_url`` on ``node`` like a person would:
    hidden fields as given (CSRF token, transaction), the first visible text field gets
    the identifier, the password field the password."""
    page = http.get(urljoin(node.url, login_url), timeout=10)
    finder = FormFinder()
    finder.feed(page.text)
    form = next(f for f in finder.forms
                if any(i.get("type") == "password" for i in f["inputs"]))  # type: ignore[union-attr]
    data: dict[str, str] = {}
    filled_identifier = False
    for field_ in form["inputs"]:  # type: ignore[union-attr]
        kind, fname = field_.get("type", "text"), field_.get("name")
        if not fname:
            continue
        if kind == "password":
            data[fname] = password
        elif kind in ("text", "tel") and not filled_identifier:
            data[fname], filled_identifier = identifier, True
        elif kind in ("hidden", "text", "tel"):
            data[fname] = field_.get("value", "")
    action = urljoin(page.url, str(form["action"]) or page.url)
    return http.post(action, data=data, allow_redirects=False, timeout=10)
