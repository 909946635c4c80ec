"""``python -m bench.servers``: the WSGI server's own CPU per request (bench/README.md round 4).

Serves a trivial WSGI app and the platform's cheapest endpoint (discovery) under each
candidate server with 2 workers, drives it with ``wrk`` (keep-alive, 4 connections) from a
separate process, and reports the server process tree's utime+stime delta per request
(bench/procstat.py). Candidates run back to back per round, rounds repeat, so load from
other users of the machine spreads over all of them.

bjoern and pyuwsgi are not project dependencies: ``--python`` names a Python that has them
(e.g. a venv whose site-packages includes the project's via a .pth file; bjoern needs
Debian libev-dev).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.procstat import cpu_seconds, tree

ROOT = Path(__file__).resolve().parent.parent
TRIVIAL = "bench.servers:trivial"
PLATFORM = "idp.wsgi:app"
PATHS = {TRIVIAL: "/", PLATFORM: "/.well-known/openid-configuration"}


def trivial(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def bjoern_main(spec: str, host: str, port: int, workers: int) -> None:
    """bjoern has no process manager: fork workers, each with its own SO_REUSEPORT socket,
    importing the app after the fork (database pools are per process)."""
    import importlib

    import bjoern

    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            module, name = spec.split(":")
            app = getattr(importlib.import_module(module), name)
            bjoern.listen(app, host, port, reuse_port=True)
            bjoern.run()
            os._exit(0)
        children.append(pid)
    signal.signal(signal.SIGTERM, lambda *_: [os.kill(c, signal.SIGTERM) for c in children])
    for c in children:
        os.waitpid(c, 0)


def uwsgi_command(bindir: Path, spec: str, host: str, port: int, workers: int,
                  threads: int) -> list[str]:
    """uWSGI (the pyuwsgi wheel) as `idp serve` would run it in production; each option
    says why (tried in round 4: graceful SIGTERM, keep-alive, limits all held)."""
    argv = [str(bindir / "uwsgi"), "--strict", "--need-app",
            "--http11-socket", f"{host}:{port}",  # native HTTP/1.1 parser with keep-alive
            "--wsgi", spec, "--master", "--processes", str(workers),
            "--lazy-apps",  # the app (database and Redis pools) is built in each worker
            "--single-interpreter", "--enable-threads",
            # Request logs carry query strings (codes, hints): the app logs what it needs.
            "--disable-logging", "--log-4xx", "--log-5xx",
            # Header limit 16 KiB (cookies, long authorization URLs). Bodies: the app's
            # MAX_CONTENT_LENGTH (1 MiB) answers 413; uWSGI's --limit-post would reset the
            # connection instead.
            "--buffer-size", "16384",
            "--harakiri", "60",  # a worker stuck for a minute is replaced
            "--listen", "128",
            # SIGTERM: finish the requests in flight, then exit (uWSGI's default is a
            # brutal reload); SIGHUP reloads gracefully. At most 10 s of mercy.
            "--hook-master-start", "unix_signal:15 gracefully_kill_them_all",
            "--worker-reload-mercy", "10", "--reload-mercy", "10",
            "--ignore-sigpipe", "--ignore-write-errors", "--disable-write-exception"]
    if threads > 1:
        argv += ["--threads", str(threads)]
    return argv


def command(server: str, spec: str, port: int, python: str, workers: int) -> list[str]:
    """`idp serve`'s own argv (idp/serve.py) with ``spec`` as the app; bjoern, uWSGI here."""
    from idp.serve import APP_SPEC, server_command

    host = "127.0.0.1"
    if server == "bjoern":
        return [python, "-c", "from bench.servers import bjoern_main; "
                f"bjoern_main({spec!r}, {host!r}, {port}, {workers})"]
    name = server.removesuffix("-1thread")
    threads = 1 if name != server else 4
    if name == "uwsgi":
        return uwsgi_command(Path(python).parent, spec, host, port, workers, threads)
    argv = server_command(name, host, port, workers, threads)
    return [spec if arg == APP_SPEC else arg for arg in argv]


SERVERS = ("granian", "granian-1thread", "gunicorn", "bjoern", "uwsgi", "uwsgi-1thread")


def wrk(port: int, path: str, seconds: int) -> int:
    out = subprocess.run(["wrk", "-t", "2", "-c", "4", "-d", f"{seconds}s",
                          f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(out)
    return int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]


def measure(server: str, spec: str, env: dict[str, str], python: str, port: int,
            seconds: int, workers: int) -> dict[str, Any]:
    from idp.serve import wait_for_port

    proc = subprocess.Popen(command(server, spec, port, python, workers), env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        time.sleep(1.0)
        wrk(port, PATHS[spec], 2)  # warm-up: every worker imported and warm
        pids = tree(proc.pid)
        before = cpu_seconds(pids)
        count = wrk(port, PATHS[spec], seconds)
        cpu = cpu_seconds(pids) - before
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            for pid in tree(proc.pid)[::-1]:
                os.kill(pid, signal.SIGKILL)
            proc.wait()
    return {"server": server, "app": spec, "requests": count, "rps": count / seconds,
            "cpu_us": cpu / count * 1e6}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.servers")
    p.add_argument("--python", default=sys.executable, help="a Python with bjoern, pyuwsgi")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--only", nargs="*", choices=SERVERS, default=list(SERVERS))
    args = p.parse_args()
    from bench.__main__ import IDP, server_env
    from bench.setup import BenchDatabase, services_env
    from idp.serve import free_port

    admin_url, redis_url = services_env(ROOT)
    results = []
    with BenchDatabase(admin_url) as url:
        port = free_port()
        env = server_env(url, redis_url, port)
        subprocess.run([IDP, "init"], env=env, check=True, capture_output=True)
        env["PYTHONPATH"] = str(ROOT)
        for _ in range(args.rounds):
            for spec in (TRIVIAL, PLATFORM):
                for server in args.only:
                    r = measure(server, spec, env, args.python, port, args.seconds,
                                args.workers)
                    results.append(r)
                    print(f"{r['app']:22} {server:17} {r['cpu_us']:7.0f} µs/request  "
                          f"{r['rps']:7.0f} req/s", flush=True)
    (ROOT / "bench" / "results" / "servers.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
