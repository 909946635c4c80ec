"""The token scenarios (client_credentials, refresh, userinfo, introspection) under ``wrk``.

Python's ``http.client`` costs the load generator more CPU per request than these
requests cost the server, and both share the machine's cores: driven from Python the
server idles between requests and each one pays for waking it (bench/README.md, round 10).
``wrk`` (C, Debian package; ``scripts/services.sh`` installs it) keeps the server busy
with the same number of connections, as ``bench.servers`` drives the bare servers. The
flow stays on ``bench.load``: it parses forms and keeps cookies, and argon2id keeps the
server busy anyway.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.load import REQUESTS_PER_CONNECTION, basic

SCRIPT = Path(__file__).with_name("wrk.lua")
SCENARIOS = ("cc", "refresh", "userinfo", "introspect")


class Wrk:
    """One scenario under wrk: `warm_up` for a second, then `measure` (the caller reads the
    server's CPU between the two, as around bench/load.py's "go").

    Refresh tokens rotated in the warm-up are carried into the measured run, and one that
    may have been rotated unseen is never sent again.
    """

    def __init__(self, cfg: dict[str, Any]) -> None:
        if cfg["scenario"] not in SCENARIOS:
            raise ValueError(f"wrk drives {', '.join(SCENARIOS)}, not {cfg['scenario']}")
        if shutil.which("wrk") is None:
            raise RuntimeError("wrk is not installed (scripts/services.sh installs it); "
                               "or measure with --load python")
        self.cfg = cfg
        self.tokens = [dict(t) for t in cfg.get("tokens", [])]

    def warm_up(self) -> None:
        _wrk(self.cfg, self.tokens, 1, "warm-up")

    def measure(self, seconds: float) -> dict[str, Any]:
        """Run for ``seconds`` (whole seconds, at least one: wrk's unit); the result has
        ``bench.load``'s keys."""
        return _wrk(self.cfg, self.tokens, seconds, "run")


def _wrk(cfg: dict[str, Any], tokens: list[dict[str, Any]], seconds: float,
         phase: str) -> dict[str, Any]:
    """One wrk process over the tokens not yet spent; updates ``tokens`` in place from what
    the script reports (rotated refresh tokens, spent ones)."""
    name, n = cfg["scenario"], cfg["concurrency"]
    key = "refresh_token" if name == "refresh" else "access_token"
    auth = basic(cfg["client_id"], cfg["client_secret"])["Authorization"]
    live = [t for t in tokens if not t.get("spent")]
    if name != "cc" and len(live) < n:
        raise RuntimeError(f"{name} {phase}: {len(live)} tokens for {n} connections "
                           "(raise --scale: the flow makes them)")
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as data:
        data.write("\n".join([auth, *(t[key] for t in live)]) + "\n")
        data.flush()
        finished = subprocess.run(
            ["wrk", "-t", str(n), "-c", str(n), "-d", f"{max(1, round(seconds))}s",
             "--timeout", "10s", "-s", str(SCRIPT), f"{cfg['base']}/",
             "--", name, data.name, str(REQUESTS_PER_CONNECTION), str(n)],
            capture_output=True, text=True, timeout=seconds + 60)
    report = finished.stdout + finished.stderr
    if finished.returncode != 0:
        raise RuntimeError(f"wrk failed in the {phase} of {name}: {report.strip()[-300:]}")
    facts: dict[str, Any] = {"bad": 0, "sample": []}
    for line in finished.stdout.splitlines():
        field, _, value = line.partition("\t")
        if field == "bad":
            facts["bad"] += int(value)
        elif field == "sample":
            facts["sample"].append(value)
        elif field == "token":
            index, _, token = value.partition("\t")
            live[int(index)][key] = token
        elif field == "spent":
            live[int(value)]["spent"] = True
        elif field in ("requests", "duration_us", "socket_errors", "p50_us", "p99_us"):
            facts[field] = float(value)
    if "requests" not in facts:
        raise RuntimeError(f"wrk printed no result in the {phase} of {name}: "
                           f"{report.strip()[-300:]!r}")
    elapsed = facts["duration_us"] / 1e6
    ok = int(facts["requests"]) - facts["bad"]
    return {"elapsed": elapsed, "errors": facts["bad"] + int(facts["socket_errors"]),
            "error_samples": facts["sample"][:5], "retries": 0, "retry_samples": [],
            "ok": ok, "rps": ok / elapsed, "p50_ms": facts["p50_us"] / 1000,
            "p99_ms": facts["p99_us"] / 1000, "load": "wrk"}
