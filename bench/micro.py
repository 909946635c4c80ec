"""``python -m bench.micro``: in-process CPU per request, for quick iteration on the hot paths.

Same fixtures as the HTTP benchmark (fresh PostgreSQL database, Redis db 1, production
argon2id), but the WSGI app is called directly in this process, one request at a time,
and CPU is this process's ``time.process_time`` — no server, no sockets of our own (the
database and Redis round trips remain). ``--profile NAME`` prints a cProfile of one
scenario. The numbers reported against the targets are the HTTP benchmark's (bench/README.md);
this one only tells whether a change helps.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import io
import json
import pstats
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from werkzeug.test import EnvironBuilder

from bench.__main__ import IDP, ROOT, drop_keys, server_env
from bench.forms import forms_of
from bench.setup import BenchDatabase, seed, services_env

SCENARIOS = ("cc", "refresh", "userinfo", "introspect", "flow")


class Caller:
    """Call the WSGI app with prebuilt environs (as little harness cost as possible)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def environ(self, method: str, path: str, body: str = "",
                headers: dict[str, str] | None = None) -> dict[str, Any]:
        ctype = "application/x-www-form-urlencoded" if body else None
        return EnvironBuilder(path=path, method=method, data=body or None, headers=headers,
                              content_type=ctype, base_url="http://127.0.0.1:8000").get_environ()

    def call(self, environ: dict[str, Any]) -> tuple[str, dict[str, list[str]], bytes]:
        env = dict(environ)
        body = environ["wsgi.input"].getvalue() if hasattr(environ["wsgi.input"], "getvalue") \
            else b""
        env["wsgi.input"] = io.BytesIO(body)
        out: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                           ) -> None:
            out["status"] = status
            out["headers"] = headers

        chunks = self.app(env, start_response)
        data = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        hdrs: dict[str, list[str]] = {}
        for k, v in out["headers"]:
            hdrs.setdefault(k.lower(), []).append(v)
        return out["status"], hdrs, data


def basic(fx: dict[str, Any]) -> dict[str, str]:
    raw = f"{fx['client_id']}:{fx['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def flow(caller: Caller, fx: dict[str, Any], user: str) -> dict[str, Any]:
    """authorize → login → code → token, with cookies (like bench/load.py)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urlencode({"response_type": "code", "client_id": fx["client_id"],
                       "redirect_uri": fx["redirect_uri"], "scope": fx["scope"],
                       "state": "s", "nonce": "n",
                       "code_challenge": challenge.rstrip(b"=").decode(),
                       "code_challenge_method": "S256"})
    cookies: dict[str, str] = {}
    method, url, body = "GET", f"/authorize?{query}", ""
    for _ in range(10):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        status, hdrs, data = caller.call(caller.environ(method, url, body, headers))
        for raw in hdrs.get("set-cookie", []):
            name, _, rest = raw.partition("=")
            cookies[name] = rest.split(";", 1)[0]
        location = hdrs.get("location", [""])[0]
        if location.startswith(fx["redirect_uri"]):
            break
        if location:
            parts = urlsplit(location)
            method, url, body = "GET", parts.path + (f"?{parts.query}" if parts.query else ""), ""
            continue
        form = forms_of(data.decode())[0]
        fields = {**form.fields, "identifier": user, "password": fx["password"]}
        method, url, body = "POST", form.action or url, urlencode(fields)
    code = parse_qs(urlsplit(location).query)["code"][0]
    body = urlencode({"grant_type": "authorization_code", "code": code,
                      "redirect_uri": fx["redirect_uri"], "code_verifier": verifier})
    status, _, data = caller.call(caller.environ("POST", "/token", body, basic(fx)))
    assert status.startswith("200"), data
    return json.loads(data)  # type: ignore[no-any-return]


def requests_for(name: str, caller: Caller, fx: dict[str, Any], tokens: list[dict[str, Any]],
                 n: int) -> list[Any]:
    auth = basic(fx)
    if name == "cc":
        env = caller.environ("POST", "/token", "grant_type=client_credentials", auth)
        return [env] * n
    if name == "userinfo":
        return [caller.environ("GET", "/userinfo", headers={
            "Authorization": f"Bearer {tokens[i % len(tokens)]['access_token']}"})
            for i in range(n)]
    if name == "introspect":
        return [caller.environ("POST", "/introspect", urlencode(
            {"token": tokens[i % len(tokens)]["access_token"]}), auth) for i in range(n)]
    return []


def run(name: str, caller: Caller, fx: dict[str, Any], tokens: list[dict[str, Any]],
        n: int) -> float:
    """CPU µs per request (per flow for ``flow``)."""
    if name == "flow":
        t0 = time.process_time()
        for i in range(n):
            tokens.append(flow(caller, fx, fx["users"][i % len(fx["users"])]))
        return (time.process_time() - t0) / n * 1e6
    if name == "refresh":
        cpu = 0.0
        for i in range(n):
            tok = tokens[i % len(tokens)]
            env = caller.environ("POST", "/token", urlencode(
                {"grant_type": "refresh_token", "refresh_token": tok["refresh_token"]}),
                basic(fx))
            t0 = time.process_time()
            status, _, data = caller.call(env)
            cpu += time.process_time() - t0
            assert status.startswith("200"), data
            tok["refresh_token"] = json.loads(data)["refresh_token"]
        return cpu / n * 1e6
    envs = requests_for(name, caller, fx, tokens, n)
    t0 = time.process_time()
    for env in envs:
        status, _, data = caller.call(env)
        assert status.startswith("200"), data
    return (time.process_time() - t0) / n * 1e6


class RoundTrips:
    """Count database statements (BEGIN/COMMIT included) and Redis commands per request."""

    def __init__(self, app: Any) -> None:
        from sqlalchemy import event

        platform = app.extensions["idp"]
        self.sql = 0
        self.redis = 0
        for engine in (platform.db.engine, platform.db.reader_engine):
            for name in ("before_cursor_execute", "begin", "commit", "rollback"):
                if engine is not None:
                    event.listen(engine, name, self._sql)
        from idp.db import DriverStatement

        driver_rows = DriverStatement.rows

        def counted_statement(statement: Any, *args: Any) -> Any:
            self.sql += 1  # statements on the driver (refresh_driver.py), in autocommit
            return driver_rows(statement, *args)

        DriverStatement.rows = counted_statement  # type: ignore[method-assign]
        execute = getattr(platform.store, "_execute", None)
        if execute is not None:  # RedisStore since round 6: one `_execute` per round trip

            def counted_trip(*commands: Any) -> Any:
                self.redis += 1
                return execute(*commands)

            platform.store._execute = counted_trip

    def _sql(self, *args: Any, **kw: Any) -> None:
        self.sql += 1


@contextmanager
def bench_app(people: int) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The platform in process on a fresh bench database: its app and the seeded fixtures."""
    admin_url, redis_url = services_env(ROOT)
    with BenchDatabase(admin_url) as url:
        env = server_env(url, redis_url, 8000)
        env["IDP_ISSUER"] = "http://127.0.0.1:8000"
        subprocess.run([IDP, "init"], env=env, check=True, capture_output=True)
        fx = seed(env, people)
        from idp import create_app
        from idp.settings import Settings

        try:
            yield create_app(Settings.from_env(env)), fx
        finally:
            drop_keys(redis_url, env["IDP_REDIS_PREFIX"])  # this run's Store keys only


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.micro")
    p.add_argument("-n", type=int, default=500)
    p.add_argument("--only", nargs="*", choices=SCENARIOS, default=list(SCENARIOS))
    p.add_argument("--profile", choices=SCENARIOS)
    args = p.parse_args()
    with bench_app(5) as (app, fx):
        caller = Caller(app)
        trips = RoundTrips(app)
        tokens = [flow(caller, fx, fx["users"][i % 5]) for i in range(20)]
        for name in SCENARIOS:
            if name not in args.only:
                continue
            count = max(5, args.n // 20) if name == "flow" else args.n
            run(name, caller, fx, tokens, max(5, count // 10))  # warm-up
            trips.sql = trips.redis = 0
            cpu = run(name, caller, fx, tokens, count)
            print(f"{name:12} {cpu:9.0f} µs/request  SQL {trips.sql / count:5.1f}  "
                  f"Redis {trips.redis / count:5.1f} per request")
        if args.profile:
            prof = cProfile.Profile(time.process_time)  # CPU, like the benchmark
            count = max(5, args.n // 20) if args.profile == "flow" else args.n
            prof.enable()
            run(args.profile, caller, fx, tokens, count)
            prof.disable()
            stats = pstats.Stats(prof)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(30)
        app.extensions["idp"].db.dispose()


if __name__ == "__main__":
    main()
