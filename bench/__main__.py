"""``python -m bench`` (`make bench`): the production server on PostgreSQL + Redis, under load.

Starts ``idp serve`` with a fresh database, production argon2id parameters (m=19 MiB, t=2,
p=1) and production (non-debug) settings, seeds people and a client, then drives each
scenario from a separate process (``wrk`` for the token scenarios, bench/wrk.py; the flow
from bench/load.py) and reports requests/s, p50/p99 latency
and the server's CPU time per request, read from /proc for the master and every worker.
Everything listens on and talks to 127.0.0.1 only; every run is bounded in count and time.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import wrk
from bench.procstat import cpu_seconds, rss_mib, tree
from bench.setup import BenchDatabase, seed, services_env
from idp.serve import DEFAULT_SERVER, DEFAULT_THREADS, free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
IDP = str(Path(sys.executable).parent / "idp")

# Issue 2, "Performance": server CPU per request (µs) and worker RSS (MiB).
TARGETS_US = {"cc": 600, "flow": 30_000, "refresh": 1_200, "userinfo": 400, "introspect": 400}
TARGET_RSS_MIB = 150
LABELS = {"cc": "client_credentials token", "flow": "auth-code flow + password login",
          "refresh": "refresh (rotation)", "userinfo": "userinfo", "introspect": "introspection"}
# (iterations, seconds, warm-up iterations) per scenario at --scale 1.
BUDGET = {"cc": (4000, 20, 100), "flow": (300, 30, 8), "refresh": (3000, 20, 40),
          "userinfo": (4000, 20, 100), "introspect": (4000, 20, 100)}


def server_env(database_url: str, redis_url: str, port: int) -> dict[str, str]:
    """Production settings: fresh random keys, no debug, argon2id at its defaults.

    Every run gets its own Store key prefix in the shared bench Redis db: runs started
    side by side (this, ``bench.micro``, another engineer's) must not see — or, as the
    FLUSHDB each run once began with did, wipe — each other's login transactions,
    codes, sessions and rate-limit counters (bench/README.md round 5, flow failures).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(IDP_DATABASE_URL=database_url, IDP_REDIS_URL=redis_url,
               IDP_REDIS_PREFIX=f"bench-{secrets.token_hex(6)}:",
               IDP_ISSUER=f"http://127.0.0.1:{port}", IDP_SECURE_COOKIES="false",
               IDP_SECRET_KEY=secrets.token_urlsafe(32),
               IDP_DATA_KEY=base64.b64encode(secrets.token_bytes(32)).decode())
    return env


def drop_keys(redis_url: str, prefix: str) -> None:
    """Delete this run's Store keys (only its own prefix: other runs may be going on)."""
    from idp.store import RedisStore

    RedisStore(redis_url, prefix).flush_prefix()


def start_server(env: dict[str, str], server: str, workers: int, threads: int,
                 port: int) -> subprocess.Popen[bytes]:
    log = (RESULTS / f"server-{server}.log").open("wb")
    proc = subprocess.Popen([IDP, "serve", "--server", server, "--workers", str(workers),
                             "--threads", str(threads), "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited; see {log.name}")
        try:
            wait_for_port("127.0.0.1", port, timeout=1)
            break
        except TimeoutError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
    time.sleep(1.0)  # let every worker finish importing before the first measurement
    return proc


def run_scenario(name: str, cfg: dict[str, Any], server_pid: int,
                 load: str = "wrk", scale: float = 1.0) -> dict[str, Any]:
    """Warm up, then measure one scenario; CPU is the server tree's delta around the run.

    ``load="wrk"`` drives the token scenarios with ``wrk`` (bench/wrk.py) for the
    scenario's seconds times ``scale``; otherwise ``bench.load`` runs its iterations.
    """
    count, seconds, warmup = cfg.pop("budget")
    if load == "wrk" and name in wrk.SCENARIOS:
        driver = wrk.Wrk({**cfg, "scenario": name})
        driver.warm_up()
        pids = tree(server_pid)
        cpu0 = cpu_seconds(pids)
        result = driver.measure(seconds * scale)
        return _per_request(name, result, cpu_seconds(pids) - cpu0)
    generator = subprocess.Popen([sys.executable, "-m", "bench.load"], cwd=ROOT, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert generator.stdin and generator.stdout
    generator.stdin.write(json.dumps({**cfg, "scenario": name, "count": count,
                                      "seconds": seconds, "warmup": warmup}) + "\n")
    generator.stdin.flush()
    if generator.stdout.readline().strip() != "ready":
        generator.kill()
        raise RuntimeError(f"load generator failed during warm-up of {name}")
    pids = tree(server_pid)
    cpu0 = cpu_seconds(pids)
    generator.stdin.write("go\n")
    generator.stdin.flush()
    result = json.loads(generator.stdout.readline())
    cpu = cpu_seconds(pids) - cpu0
    generator.wait(timeout=30)
    result["load"] = "python"
    return _per_request(name, result, cpu)


def _per_request(name: str, result: dict[str, Any], cpu: float) -> dict[str, Any]:
    result["server_cpu_us"] = cpu / result["ok"] * 1e6 if result["ok"] else float("nan")
    result["target_us"] = TARGETS_US[name]
    return result


def table(results: dict[str, dict[str, Any]], rss: dict[str, float], meta: dict[str, Any]) -> str:
    lines = [f"server: {meta['server']}, {meta['workers']} workers × {meta['threads']} "
             f"threads; load: {meta['concurrency']} connections from a separate "
             f"process; {meta['cores']} cores; PostgreSQL + Redis",
             "", f"{'scenario':33} {'load':>6} {'ok':>7} {'err':>4} {'req/s':>8} "
             f"{'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11} {'target':>8}"]
    for name, r in results.items():
        verdict = "ok" if r["server_cpu_us"] <= r["target_us"] else "MISSED"
        lines.append(f"{LABELS[name]:33} {r['load']:>6} {r['ok']:7d} {r['errors']:4d} "
                     f"{r['rps']:8.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                     f"{r['server_cpu_us']:11.0f} "
                     f"{r['target_us']:>7} {verdict}")
    worst = max(rss["workers"]) if rss["workers"] else 0.0
    lines += ["", f"RSS after the run: workers {', '.join(f'{v:.0f}' for v in rss['workers'])} "
              f"MiB (target ≤ {TARGET_RSS_MIB}: {'ok' if worst <= TARGET_RSS_MIB else 'MISSED'}),"
              f" master {rss['master']:.0f} MiB"]
    for name, r in results.items():
        for sample in r.get("error_samples", []):
            lines.append(f"  {name} error: {sample}")
        if r.get("retries"):
            lines.append(f"  {name}: {r['retries']} requests re-sent after a closed "
                         f"connection, e.g. {', '.join(r.get('retry_samples', []))}")
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    cores = os.cpu_count() or 1
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--server", default=DEFAULT_SERVER,
                   choices=["gunicorn", "gunicorn-sync", "granian"])
    p.add_argument("--workers", type=int, default=cores)
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    p.add_argument("--concurrency", type=int, default=2 * cores)
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply iteration counts and wrk's seconds")
    p.add_argument("--load", choices=["wrk", "python"], default="wrk",
                   help="what drives the token scenarios (the flow is always bench.load)")
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--only", nargs="*", choices=list(BUDGET), default=list(BUDGET))
    return p.parse_args()


def main() -> int:
    args = parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    db_admin_url, redis_url = services_env(ROOT)
    port = free_port()
    with BenchDatabase(db_admin_url) as database_url:
        env = server_env(database_url, redis_url, port)
        subprocess.run([IDP, "init"], env=env, check=True, capture_output=True)
        fixtures = seed(env, args.users)
        server = start_server(env, args.server, args.workers, args.threads, port)
        try:
            base = {"base": f"http://127.0.0.1:{port}", "concurrency": args.concurrency,
                    **fixtures}
            results: dict[str, dict[str, Any]] = {}
            tokens: list[dict[str, Any]] = []
            needs_tokens = bool(set(args.only) - {"cc"})  # flow makes the tokens the rest use
            for name in ["flow", *[n for n in BUDGET if n != "flow"]]:
                if name not in args.only and not (name == "flow" and needs_tokens):
                    continue
                count, seconds, warmup = BUDGET[name]
                budget = (max(1, int(count * args.scale)), seconds, warmup)
                print(f"· {LABELS[name]} …", file=sys.stderr, flush=True)
                r = run_scenario(name, {**base, "tokens": tokens, "budget": budget}, server.pid,
                                 args.load, args.scale)
                if name == "flow":
                    tokens = r.pop("tokens")
                    if not tokens:
                        raise RuntimeError(f"no flow succeeded: {r['error_samples']}")
                else:
                    r.pop("tokens", None)
                if name in args.only:
                    results[name] = r
            pids = tree(server.pid)
            rss = {"master": rss_mib(server.pid), "workers": [rss_mib(p) for p in pids[1:]]}
        finally:
            server.terminate()
            server.wait(timeout=30)
            drop_keys(redis_url, env["IDP_REDIS_PREFIX"])
    meta = {"server": args.server, "workers": args.workers, "threads": args.threads,
            "concurrency": args.concurrency, "load": args.load,
            "cores": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    report = table({n: results[n] for n in BUDGET if n in results}, rss, meta)
    print(report)
    payload = {"meta": meta, "results": results, "rss_mib": rss, "table": report}
    for path in (RESULTS / "latest.json", RESULTS / f"{args.server}.json"):
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
