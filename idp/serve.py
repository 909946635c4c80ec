"""``idp serve``, ``idp init`` and ``idp demo``: run a node (DESIGN.md, "One picture").

`serve` hands the WSGI app ``idp.wsgi:app`` to a production server. The default, granian
(one process per core, 4 blocking threads each), was chosen by measurement: it used the least
server CPU per request in every scenario (bench/README.md has the numbers).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import click

from idp.settings import Settings, SettingsError

APP_SPEC = "idp.wsgi:app"
SERVERS = ("gunicorn", "gunicorn-sync", "granian", "dev")
DEFAULT_SERVER = "granian"
DEFAULT_THREADS = 4


def default_workers() -> int:
    """One worker per core: the app is CPU-bound (argon2, signatures), not I/O-bound."""
    return max(1, os.cpu_count() or 1)


def server_command(server: str, host: str, port: int, workers: int, threads: int = 4) -> list[str]:
    """The argv that serves `APP_SPEC` with the chosen server on ``host:port``."""
    bindir = Path(sys.executable).parent
    if server == "gunicorn":
        return [str(bindir / "gunicorn"), "--bind", f"{host}:{port}", "--workers", str(workers),
                "--worker-class", "gthread", "--threads", str(threads),
                "--graceful-timeout", "10", APP_SPEC]
    if server == "gunicorn-sync":
        return [str(bindir / "gunicorn"), "--bind", f"{host}:{port}", "--workers", str(workers),
                "--worker-class", "sync", APP_SPEC]
    if server == "granian":
        return [str(bindir / "granian"), "--interface", "wsgi", "--host", host,
                "--port", str(port), "--workers", str(workers),
                "--blocking-threads", str(threads), APP_SPEC]
    if server == "dev":
        return [sys.executable, "-c", "from idp.serve import run_dev_server; run_dev_server()",
                host, str(port)]
    raise click.BadParameter(f"unknown server {server!r}; choose one of {', '.join(SERVERS)}")


def quiet_request_handler() -> type:
    """Werkzeug's handler, logging paths without query strings (codes, hints, tx ids)."""
    from werkzeug.serving import WSGIRequestHandler

    class PathOnlyHandler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            path = self.path.split("?", 1)[0]
            self.log("info", '"%s %s" %s %s', self.command, path, code, size)

    return PathOnlyHandler


def run_dev_server() -> None:
    """Werkzeug's threaded server in one process: for `idp demo` and tests (in-process store)."""
    from werkzeug.serving import run_simple

    from idp.wsgi import app

    host, port = sys.argv[1], int(sys.argv[2])
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False,
               request_handler=quiet_request_handler())


def check_settings() -> Settings:
    """Load and check settings before starting workers, so a bad value is one clear line."""
    try:
        settings = Settings.from_env()
        settings.check()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    return settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: one per core).")
@click.option("--threads", type=click.IntRange(1, 64), default=DEFAULT_THREADS,
              show_default=True, help="Threads per worker (gunicorn gthread, granian).")
@click.option("--server", type=click.Choice(SERVERS), default=DEFAULT_SERVER, show_default=True)
def serve(host: str, port: int, workers: int | None, threads: int, server: str) -> None:
    """Serve the platform with a production WSGI server."""
    settings = check_settings()
    if server == "dev" and not (settings.debug or settings.testing):
        raise click.ClickException("--server dev needs IDP_DEBUG or IDP_TESTING")
    argv = server_command(server, host, port, workers or default_workers(), threads)
    # argon2 takes a 19 MiB buffer per hash: one is kept per worker (idp/argon2_pool.py),
    # libsodium (without the native module) maps and unmaps its own, and buffers beyond the
    # kept one are mmapped
    # (threshold 1 MiB) and go back to the OS when freed, instead of staying in the heap:
    # worker RSS 130–132 MiB after the bench load instead of 131–170 with heap buffers
    # (bench/README.md round 3, "RSS"). One arena: more would each keep free memory.
    os.environ.setdefault("MALLOC_ARENA_MAX", "1")
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(1024 * 1024))
    if not Path(argv[0]).exists() and shutil.which(argv[0]) is None:
        raise click.ClickException(f"{server} is not installed in this environment")
    sys.stdout.flush()
    os.execv(argv[0], argv)


def init_node(settings: Settings) -> str:
    """Migrate the database to head and make sure a signing key exists; idempotent."""
    from idp.db import Database
    from idp.migrate import upgrade
    from idp.oidc.keys import KeyRing

    if settings.database_url.startswith("sqlite:///"):
        # The embedded default lives under var/, which a fresh checkout does not have yet.
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True)
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        from idp.crypto import DataProtector

        protector = DataProtector(settings.data_key_bytes, settings.data_cipher)
        # KeyRing creates the active key for the node's algorithm when there is none.
        loaded = KeyRing(db, protector, settings.signing_alg).reload()
    finally:
        db.dispose()
    return f"{len(loaded.jwks['keys'])} signing key(s) published"


@click.command()
def init() -> None:
    """Prepare a node: migrate the database and create the first signing key."""
    from sqlalchemy.exc import OperationalError

    from idp.crypto import DecryptionError

    settings = check_settings()
    try:
        note = init_node(settings)
    except OperationalError as exc:
        raise click.ClickException(f"cannot use the database: {exc.orig}") from exc
    except DecryptionError as exc:
        # Keys sealed under another IDP_DATA_KEY (or cipher): say so instead of a traceback.
        raise click.ClickException(
            "the stored signing keys cannot be decrypted with this IDP_DATA_KEY / "
            "IDP_DATA_CIPHER; use the key the database was created with") from exc
    click.echo(f"database at head; {note}")


_HANDED_OUT: set[int] = set()
_HANDED_OUT_LOCK = threading.Lock()
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago, never one this process was given before.

    Drawn from below the kernel's ephemeral range where there is one: a port in that range
    may become the local end of any outgoing connection (to PostgreSQL, Redis, …) between
    now and the moment a server binds it (CI saw a test server lose its port that way),
    and the kernel may hand a just-released port out again at once (CI saw nginx merge its
    plain and TLS listeners on one port).
    """
    with _HANDED_OUT_LOCK:
        for port in _candidates():
            if port in _HANDED_OUT:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((host, port))
                except OSError:
                    continue
                port = int(s.getsockname()[1])
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port
    raise RuntimeError("no free TCP port")


def _candidates() -> Iterator[int]:
    """Random ports below the ephemeral range (10 000 of them), then port 0 (any)."""
    try:
        low = int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    if low > 10_000 + 1024:
        for _ in range(200):
            yield random.randrange(low - 10_000, low)
    while True:
        yield 0


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    """Block until something accepts TCP connections on ``host:port``, or raise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:.0f} s")


@click.command()
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the platform.")
@click.option("--social-security-port", default=5101, show_default=True,
              type=click.IntRange(1, 65535))
@click.option("--housing-fund-port", default=5102, show_default=True,
              type=click.IntRange(1, 65535))
def demo(port: int, social_security_port: int, housing_fund_port: int) -> None:
    """Set up and serve the demo: the platform and two department systems (127.0.0.1 only)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "demo" / "launcher.py").exists():
        raise click.ClickException("the demo/ directory is not next to this installation; "
                                   "run `make demo` from a checkout of the repository")
    sys.path.insert(0, str(root))
    from demo.launcher import run_demo

    rp_ports = {"social_security": social_security_port, "housing_fund": housing_fund_port}
    if len({port, *rp_ports.values()}) != 3:
        raise click.BadParameter("the three ports must differ")
    sys.exit(run_demo(root, port, rp_ports))
