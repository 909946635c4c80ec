"""``python -m bench.flowsteps``: the password flow request by request, in process.

Like ``bench.micro --only flow`` (same fixtures, the WSGI app called directly), but CPU is
timed around each request only — not the harness's own HTML parsing — and reported per
step with its SQL statements (BEGIN/COMMIT and the driver's included) and Store round trips
(a pipeline or a script counts once). ``--trace`` prints every statement and command of one flow.
``--no-argon2`` swaps the password check for a constant-time stub so the remaining steps
can be compared without argon2id's noise (never used for the numbers against targets).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections import defaultdict
from typing import Any

from bench.micro import Caller, bench_app, flow


class Steps:
    """Per-step CPU, statements and Store round trips."""

    def __init__(self, app: Any, caller: Caller, trace: bool) -> None:
        from sqlalchemy import event

        self.cpu: dict[str, float] = defaultdict(float)
        self.sql: dict[str, int] = defaultdict(int)
        self.redis: dict[str, int] = defaultdict(int)
        self.lines: list[str] = []
        self.trace = trace
        self.step = "-"
        platform = app.extensions["idp"]
        for engine in (platform.db.engine, platform.db.reader_engine):
            if engine is None:
                continue
            event.listen(engine, "before_cursor_execute",
                         lambda _c, _cur, stmt, *_a: self._sql(" ".join(stmt.split())[:140]))
            for name in ("begin", "commit", "rollback"):
                event.listen(engine, name, lambda *_a, n=name: self._sql(n.upper()))
        from idp.db import DriverStatement

        driver_rows = DriverStatement.rows

        def counted_statement(statement: Any, *args: Any) -> Any:
            # Statements on the driver, in autocommit (refresh_driver.py, code_driver.py).
            self._sql("DRIVER " + " ".join(statement.sql.split())[:133])
            return driver_rows(statement, *args)

        DriverStatement.rows = counted_statement  # type: ignore[method-assign,assignment]
        client = getattr(platform.store, "_redis", None)
        if client is not None:
            self._count_redis(client)
        execute = getattr(platform.store, "_execute", None)
        if execute is not None:  # RedisStore since round 6: one `_execute` per round trip

            def counted_trip(*commands: Any) -> Any:
                self._redis("; ".join(" ".join(str(a)[:40] for a in c) for c in commands))
                return execute(*commands)

            platform.store._execute = counted_trip
        original = caller.call

        def call(environ: dict[str, Any]) -> Any:
            self.step = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"
            self.lines.append(f"== {self.step}")
            t0 = time.process_time()
            out = original(environ)
            self.cpu[self.step] += time.process_time() - t0
            return out

        caller.call = call  # type: ignore[method-assign]

    def _count_redis(self, client: Any) -> None:
        from redis.client import Pipeline

        execute_command = client.execute_command
        steps = self

        def counted(*args: Any, **kw: Any) -> Any:
            steps._redis(" ".join(str(a)[:48] for a in args))
            return execute_command(*args, **kw)

        class CountedPipeline(Pipeline):  # type: ignore[misc]
            def execute(self, raise_on_error: bool = True) -> Any:
                steps._redis("PIPELINE[" + "; ".join(
                    " ".join(str(a)[:40] for a in c[0]) for c in self.command_stack) + "]")
                return super().execute(raise_on_error)

            def execute_command(self, *args: Any, **kw: Any) -> Any:
                return Pipeline.execute_command(self, *args, **kw)

        client.execute_command = counted
        client.pipeline = lambda transaction=True, shard_hint=None: CountedPipeline(
            client.connection_pool, client.response_callbacks, transaction, shard_hint)

    def _sql(self, text: str) -> None:
        self.sql[self.step] += 1
        if self.trace:
            self.lines.append(f"   SQL {text}")

    def _redis(self, text: str) -> None:
        self.redis[self.step] += 1
        if self.trace:
            self.lines.append(f"   Store {text}")

    def reset(self) -> None:
        self.cpu.clear()
        self.sql.clear()
        self.redis.clear()
        self.lines.clear()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.flowsteps")
    p.add_argument("-n", type=int, default=100, help="flows measured")
    p.add_argument("--trace", action="store_true")
    p.add_argument("--no-argon2", action="store_true")
    p.add_argument("--profile", metavar="STEP", help="cProfile the requests whose step "
                   "(e.g. 'GET /authorize/resume') starts with this; 'all' for every one")
    args = p.parse_args()
    with bench_app(5) as (app, fx):
        if args.no_argon2:
            from idp import passwords

            passwords._VERIFIERS["argon2"] = lambda _h, _hashed, pw: pw == fx["password"]
        caller = Caller(app)
        steps = Steps(app, caller, args.trace)
        prof = _profiled(caller, args.profile) if args.profile else None
        for i in range(10):
            flow(caller, fx, fx["users"][i % 5])
        steps.reset()
        if args.trace:
            flow(caller, fx, fx["users"][0])
            print("\n".join(steps.lines))
            steps.reset()
        caller.measuring = True  # type: ignore[attr-defined]
        for i in range(args.n):
            flow(caller, fx, fx["users"][i % len(fx["users"])])
        total = sum(steps.cpu.values())
        print(f"{'step':24} {'CPU µs':>8} {'SQL':>5} {'Store':>6}")
        for step, cpu in steps.cpu.items():
            print(f"{step:24} {cpu / args.n * 1e6:8.0f} {steps.sql[step] / args.n:5.1f} "
                  f"{steps.redis[step] / args.n:6.1f}")
        print(f"{'flow':24} {total / args.n * 1e6:8.0f} {sum(steps.sql.values()) / args.n:5.1f} "
              f"{sum(steps.redis.values()) / args.n:6.1f}")
        if prof is not None:
            stats = pstats.Stats(prof)
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(30)
        app.extensions["idp"].db.dispose()


def _profiled(caller: Caller, prefix: str) -> cProfile.Profile:
    """Profile (CPU time) the app calls of the chosen steps, after the warm-up flows."""
    prof = cProfile.Profile(time.process_time)
    inner = caller.app

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        step = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"
        if getattr(caller, "measuring", False) and (prefix == "all" or step.startswith(prefix)):
            prof.enable()
            try:
                return list(inner(environ, start_response))
            finally:
                prof.disable()
        return inner(environ, start_response)

    caller.app = app
    return prof


if __name__ == "__main__":
    main()
