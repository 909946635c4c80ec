"""The load generator: a SEPARATE process driving the server over loopback HTTP.

``python -m bench.load`` reads one JSON config line on stdin, warms up, prints ``ready``,
waits for ``go``, runs the scenario with ``concurrency`` threads until ``count`` iterations
or ``seconds`` have passed (whichever first), and prints one JSON result line. Plain
``http.client`` with keep-alive: a few tens of microseconds of client CPU per request.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import sys
import threading
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from bench.forms import forms_of

Response = tuple[int, dict[str, list[str]], bytes]


# Requests per connection before it is closed and a new one opened. The kernel hands each
# new connection to one of the server's workers at random; with only 2 × cores connections
# held for a whole run, a run could load one worker with three of four (seen: 3:1), whose
# threads then contend for its GIL while the other idles, and that alone moved a run's CPU
# per request by tens of percent. Reconnecting spreads each run over many assignments, as
# the many connections of real traffic do (bench/README.md, round 8); the handshake is
# paid once per this many requests.
REQUESTS_PER_CONNECTION = 50


class Http:
    """One keep-alive connection to the server at a time, reopened when the server closes
    it and after `REQUESTS_PER_CONNECTION` requests.

    A request that fails because the server closed the connection is sent once more on a
    new one. That is safe only when the server never read it (an idle keep-alive
    connection closed under us); a replayed POST /token or /authorize/resume would fail
    as a used code or a finished login. Every retry is counted and named in the result,
    so a failure after one can be told apart from a server error.
    """

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        assert parts.hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"
        self.host, self.port = parts.hostname, parts.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.retried: list[str] = []
        self.sent = 0

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> Response:
        headers = dict(headers or {})
        if body is not None:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError) as exc:
                self.retried.append(f"{method} {urlsplit(path).path}: {type(exc).__name__}")
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
        out: dict[str, list[str]] = {}
        for k, v in resp.getheaders():
            out.setdefault(k.lower(), []).append(v)
        self.sent += 1
        if resp.will_close or self.sent % REQUESTS_PER_CONNECTION == 0:
            self.conn.close()  # http.client opens a new one for the next request
        return resp.status, out, data


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


class Browser:
    """Just enough of a browser for the login flow: cookies and relative redirects."""

    def __init__(self, http: Http) -> None:
        self.http, self.cookies = http, {}  # type: ignore[var-annotated]

    def go(self, method: str, url: str, body: str | None = None) -> tuple[int, str, dict, bytes]:  # type: ignore[type-arg]
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        status, hdrs, data = self.http.request(method, path, body, headers)
        for raw in hdrs.get("set-cookie", []):
            for name, morsel in SimpleCookie(raw).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        location = hdrs.get("location", [""])[0]
        return status, urljoin(url, location) if location else "", hdrs, data


def auth_code_flow(http: Http, cfg: dict[str, Any], identifier: str) -> dict[str, Any]:
    """authorize → login form → (consent) → code → token; one fresh browser per flow."""
    redirect_uri = cfg["redirect_uri"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urlencode({"response_type": "code", "client_id": cfg["client_id"],
                       "redirect_uri": redirect_uri, "scope": cfg["scope"],
                       "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
                       "code_challenge": challenge.rstrip(b"=").decode(),
                       "code_challenge_method": "S256"})
    browser = Browser(http)
    retried = len(http.retried)
    try:
        return _flow_steps(http, browser, cfg, identifier, query, verifier)
    except RuntimeError as exc:
        if len(http.retried) > retried:  # say so: a replayed request can cause the failure
            raise RuntimeError(f"{exc} after retrying {http.retried[retried:]}") from exc
        raise


def _flow_steps(http: Http, browser: Browser, cfg: dict[str, Any], identifier: str,
                query: str, verifier: str) -> dict[str, Any]:
    base, redirect_uri = cfg["base"], cfg["redirect_uri"]
    status, location, _, data = browser.go("GET", f"{base}/authorize?{query}")
    url = f"{base}/authorize?{query}"
    for _ in range(10):
        if location.startswith(redirect_uri):
            break
        if location:
            url = location
            status, location, _, data = browser.go("GET", url)
            continue
        forms = forms_of(data.decode("utf-8", "replace"))
        if status != 200 or not forms:
            raise RuntimeError(f"flow stuck at {urlsplit(url).path} ({status})")
        form = forms[0]
        fields = {**form.fields}
        if "password" in fields or "identifier" in fields:
            fields.update(identifier=identifier, password=cfg["password"])
        status, location, _, data = browser.go("POST", urljoin(url, form.action or url),
                                               urlencode(fields))
    else:
        raise RuntimeError("too many steps in the flow")
    code = parse_qs(urlsplit(location).query)["code"][0]
    body = urlencode({"grant_type": "authorization_code", "code": code,
                      "redirect_uri": redirect_uri, "code_verifier": verifier})
    status, _, data = http.request("POST", "/token", body,
                                   basic(cfg["client_id"], cfg["client_secret"]))
    if status != 200:
        raise RuntimeError(f"token endpoint answered {status}: {data[:200]!r}")
    tokens = json.loads(data)
    return {"access_token": tokens["access_token"], "refresh_token": tokens.get("refresh_token")}


class Scenario:
    """One kind of request; ``step(worker, i)`` does one iteration and raises on failure."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.auth = basic(cfg["client_id"], cfg["client_secret"])
        self.tokens: list[dict[str, Any]] = [dict(t) for t in cfg.get("tokens", [])]
        self.issued: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def step(self, http: Http, worker: int, i: int) -> None:
        kind = self.cfg["scenario"]
        if kind == "flow":
            users = self.cfg["users"]
            tokens = auth_code_flow(http, self.cfg, users[(worker * 7919 + i) % len(users)])
            with self.lock:
                self.issued.append(tokens)
            return
        if kind == "cc":
            status, _, data = http.request("POST", "/token",
                                           "grant_type=client_credentials", self.auth)
        else:
            # Each worker owns a disjoint slice of the tokens: a refresh token is single-use.
            mine = self.tokens[worker::self.cfg["concurrency"]]
            token = mine[i % len(mine)]
            status, data = self._token_request(http, kind, token)
        if status != 200:
            raise RuntimeError(f"{kind}: HTTP {status} {data[:120]!r}")

    def _token_request(self, http: Http, kind: str, token: dict[str, Any]) -> tuple[int, bytes]:
        if kind == "refresh":
            body = urlencode({"grant_type": "refresh_token",
                              "refresh_token": token["refresh_token"]})
            status, _, data = http.request("POST", "/token", body, self.auth)
            if status == 200:
                fresh = json.loads(data)
                token["refresh_token"] = fresh.get("refresh_token", token["refresh_token"])
            return status, data
        if kind == "userinfo":
            status, _, data = http.request(
                "GET", "/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
            return status, data
        if kind == "introspect":
            body = urlencode({"token": token["access_token"]})
            status, _, data = http.request("POST", "/introspect", body, self.auth)
            if status == 200 and not json.loads(data).get("active"):
                return 599, b"token not active"
            return status, data
        raise ValueError(f"unknown scenario {kind}")


def run_threads(scenario: Scenario, count: int, seconds: float,
                concurrency: int) -> dict[str, Any]:
    """Run until ``count`` iterations are done or ``seconds`` pass; collect latencies."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(count))
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    retries: list[str] = []

    def worker(w: int) -> None:
        http = Http(scenario.cfg["base"])
        try:
            run_worker(w, http)
        finally:
            with lock:
                retries.extend(http.retried)

    def run_worker(w: int, http: Http) -> None:
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            t0 = time.perf_counter()
            try:
                scenario.step(http, w, i)
            except Exception as exc:  # noqa: BLE001 - counted and reported, never hidden
                with lock:
                    errors.append(str(exc)[:200])
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"elapsed": time.perf_counter() - started, "latencies": latencies,
            "errors": len(errors), "error_samples": sorted(set(errors))[:5],
            "retries": len(retries), "retry_samples": sorted(set(retries))[:5]}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(readline: Callable[[], str] = sys.stdin.readline) -> None:
    cfg = json.loads(readline())
    scenario = Scenario(cfg)
    if cfg.get("warmup"):
        run_threads(scenario, cfg["warmup"], 30, cfg["concurrency"])
    scenario.issued.clear()
    print("ready", flush=True)
    if readline().strip() != "go":
        return
    result = run_threads(scenario, cfg["count"], cfg["seconds"], cfg["concurrency"])
    lat = result.pop("latencies")
    result.update(ok=len(lat), p50_ms=percentile(lat, 0.50) * 1000,
                  p99_ms=percentile(lat, 0.99) * 1000,
                  rps=len(lat) / result["elapsed"] if result["elapsed"] else 0.0,
                  tokens=scenario.issued)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
