"""Real processes for the gateway tests and benchmark: nginx, the gateway, a legacy app.

nginx runs unprivileged-style from a private prefix (``-p``), in the foreground
(``daemon off``), with the shipped snippets (connectors/gateway/nginx/) included verbatim
into tests/gateway/nginx.test.conf, on free loopback ports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from idp.serve import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_DIR = ROOT / "connectors" / "gateway"
SNIPPETS = GATEWAY_DIR / "nginx"
TEMPLATE = Path(__file__).with_name("nginx.test.conf")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SIGNING_KEY = "gateway-test-signing-key-0123456789abcdef"


@dataclass
class GatewaySite:
    """nginx in front of the legacy app, with the gateway beside it."""

    url: str  # nginx: what browsers talk to
    gateway_url: str
    legacy_url: str
    prefix: Path

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def render_nginx(prefix: Path, port: int, gateway_port: int, legacy_port: int) -> Path:
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in {"PREFIX": prefix, "PORT": port, "GATEWAY_PORT": gateway_port,
                        "LEGACY_PORT": legacy_port, "SNIPPETS": SNIPPETS}.items():
        text = text.replace(f"@@{name}@@", str(value))
    conf = prefix / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    return conf


def _spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


@contextmanager
def _process(argv: list[str], env: dict[str, str], log: Path, port: int) -> Iterator[None]:
    proc = _spawn(argv, env, log)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited:\n" + log.read_text(errors="replace"))
            try:
                wait_for_port("127.0.0.1", port, timeout=0.5)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def gateway_env(issuer: str, client_id: str, client_secret: str, public_url: str,
                database: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "PYTHONPATH"))}
    env.update(PYTHONPATH=str(GATEWAY_DIR), IDP_GW_ISSUER=issuer, IDP_GW_CLIENT_ID=client_id,
               IDP_GW_CLIENT_SECRET=client_secret, IDP_GW_PUBLIC_URL=public_url,
               IDP_GW_SIGNING_KEY=SIGNING_KEY, IDP_GW_DATABASE=str(database),
               IDP_GW_SECURE_COOKIES="false")
    env.update({f"IDP_GW_{k.upper()}": v for k, v in extra.items()})
    return env


def gateway_argv(port: int, server: str) -> list[str]:
    if server == "gunicorn":
        return [str(Path(sys.executable).parent / "gunicorn"), "-k", "gthread", "--threads",
                "4", "-w", "1", "-b", f"127.0.0.1:{port}", "idp_gateway.wsgi:app"]
    return [sys.executable, "-m", "idp_gateway", "serve", "--port", str(port)]


@contextmanager
def gateway_site(issuer: str, client_id: str, client_secret: str, *, port: int | None = None,
                 server: str = "dev", **extra: str) -> Iterator[GatewaySite]:
    """Start the legacy app, the gateway and nginx; stop them all at the end."""
    port = port or free_port()
    gw_port, legacy_port = free_port(), free_port()
    # Outside pytest's 0700 tmp tree: nginx workers (user nobody when run as root) must
    # reach their temp directories.
    prefix = Path(tempfile.mkdtemp(prefix="idp-gw-nginx-"))
    prefix.chmod(0o755)
    (prefix / "tmp").mkdir(mode=0o755)
    url = f"http://127.0.0.1:{port}"
    env = gateway_env(issuer, client_id, client_secret, url, prefix / "gateway.sqlite3",
                      **extra)
    try:
        with ExitStack() as stack:
            stack.enter_context(_process([sys.executable, str(Path(__file__).with_name(
                "legacy_app.py")), str(legacy_port)], env, prefix / "legacy.log", legacy_port))
            stack.enter_context(_process(gateway_argv(gw_port, server), env,
                                         prefix / "gateway.log", gw_port))
            conf = render_nginx(prefix, port, gw_port, legacy_port)
            stack.enter_context(_process([NGINX, "-p", str(prefix), "-c", str(conf), "-e",
                                          str(prefix / "error.log")], env,
                                         prefix / "nginx.log", port))
            yield GatewaySite(url, f"http://127.0.0.1:{gw_port}",
                              f"http://127.0.0.1:{legacy_port}", prefix)
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def echo(browser: requests.Session, url: str, **kw: object) -> dict:  # type: ignore[type-arg]
    """GET a page of the legacy app through nginx; its JSON echo (must not redirect)."""
    resp = browser.get(url, allow_redirects=False, timeout=10, **kw)  # type: ignore[arg-type]
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("Location"))
    return resp.json()  # type: ignore[no-any-return]
