"""``python -m bench.gateway``: the legacy gateway's added latency (issue 7 item 3).

A real nginx (tests/gateway/nginx.test.conf with the shipped snippets), the gateway under
gunicorn (gthread, 1 worker × 4 threads, as README.md deploys it) and the tiny legacy app
(tests/gateway/legacy_app.py), all on 127.0.0.1. One keep-alive client sends requests
alternately to ``/public/echo`` (nginx → legacy app) and ``/app/echo`` (nginx →
``auth_request`` to the gateway → legacy app, with a signed-in session), so drift hits both
alike; the difference of the percentiles is what the gateway adds. The session is created
in the gateway's store directly: the login itself is not what is measured. Bounded by
``--count`` per path and ``--seconds`` in total. Writes bench/results/gateway.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "connectors" / "gateway"))

from idp_gateway.store import Store  # noqa: E402

from tests.gateway.stack import gateway_site  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "gateway.json"
PATHS = {"direct": "/public/echo", "gateway": "/app/echo"}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _get(conn: http.client.HTTPConnection, path: str, cookie: str) -> float:
    start = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie})
    resp = conn.getresponse()
    body = resp.read()
    elapsed = time.perf_counter() - start
    if resp.status != 200 or (path == PATHS["gateway"] and b'"error":null' not in body):
        raise RuntimeError(f"{path} answered {resp.status}: {body[:200]!r}")
    return elapsed


def measure(port: int, cookie: str, count: int, seconds: float,
            warmup: int) -> dict[str, list[float]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    samples: dict[str, list[float]] = {name: [] for name in PATHS}
    for _ in range(warmup):
        for path in PATHS.values():
            _get(conn, path, cookie)
    deadline = time.monotonic() + seconds
    while len(samples["gateway"]) < count and time.monotonic() < deadline:
        for name, path in PATHS.items():
            samples[name].append(_get(conn, path, cookie))
    conn.close()
    return samples


def summary(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    out = {name: {"n": len(s), "p50_ms": percentile(s, 0.50) * 1e3,
                  "p99_ms": percentile(s, 0.99) * 1e3, "mean_ms": statistics.fmean(s) * 1e3}
           for name, s in samples.items()}
    out["added"] = {k: out["gateway"][k] - out["direct"][k] for k in ("p50_ms", "p99_ms",
                                                                       "mean_ms")}
    out["added"]["n"] = out["gateway"]["n"]
    return out


def table(result: dict[str, dict[str, float]]) -> str:
    lines = ["| path | requests | p50 ms | p99 ms | mean ms |",
             "| --- | ---: | ---: | ---: | ---: |"]
    labels = {"direct": "nginx → legacy app", "gateway": "nginx + gateway → legacy app",
              "added": "added by the gateway"}
    for name, label in labels.items():
        r = result[name]
        lines.append(f"| {label} | {int(r['n'])} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | "
                     f"{r['mean_ms']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway")
    parser.add_argument("--count", type=int, default=3000, help="requests per path")
    parser.add_argument("--seconds", type=float, default=60.0, help="upper bound in total")
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args(argv)
    # The platform is never called: discovery is fetched only when a login starts.
    with gateway_site("http://127.0.0.1:9", "bench-client", "bench-secret",
                      server="gunicorn") as site:
        store = Store(str(site.prefix / "gateway.sqlite3"), session_ttl=3600,
                      idle_timeout=3600)
        token = store.create_session(sub="bench-sub", sid="bench-sid", name="张*",
                                     acr="urn:idp:acr:realname:2", amr=["pwd", "sms"],
                                     id_token="unused")
        port = int(site.url.rsplit(":", 1)[1])
        samples = measure(port, f"idp_gw={token}", args.count, args.seconds, args.warmup)
    result = summary(samples)
    print(table(result))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M:%S"),
                                   "args": vars(args), "result": result}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
