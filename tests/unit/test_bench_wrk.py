"""bench/wrk.py and bench/wrk.lua: the benchmark's token scenarios under wrk count what they
claim to count. Driven against a small HTTP server that answers like the platform's token
endpoints and records what it was sent, so a broken script (a refresh token sent twice, an
inactive introspection counted as a success, a header missing) fails here, not silently in
`make bench`'s table."""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from bench import wrk

CLIENT = ("bench-client", "s3cret/with+chars=")
BASIC = "Basic " + base64.b64encode(":".join(CLIENT).encode()).decode()


class Platform:
    """What the stub server saw: refresh tokens spent, reuses, connections, closes."""

    def __init__(self, refresh_tokens: set[str], access_tokens: set[str],
                 hang_up_after_rotating: int = 0) -> None:
        self.live_refresh, self.spent_refresh = set(refresh_tokens), set[str]()
        self.access = access_tokens
        self.reused: list[str] = []
        self.paths: set[tuple[str, str]] = set()
        self.peers: set[tuple[str, int]] = set()
        self.closes = self.served = 0
        # Rotate this many refresh tokens and then drop the connection unanswered.
        self.hang_ups = hang_up_after_rotating
        self.lock = threading.Lock()

    def start_counting(self) -> None:
        with self.lock:
            self.served = 0

    def answer(self, method: str, path: str, headers: Any, body: str) -> tuple[int, dict[str, Any]]:
        form = {k: v[0] for k, v in parse_qs(body).items()}
        with self.lock:
            self.served += 1
            self.paths.add((method, path))
            if headers.get("Connection", "").lower() == "close":
                self.closes += 1
            if path == "/userinfo":
                bearer = headers.get("Authorization", "").removeprefix("Bearer ")
                if bearer not in self.access:
                    return 401, {"error": "invalid_token"}
                return 200, {"sub": "x"}
            if headers.get("Authorization") != BASIC:
                return 401, {"error": "invalid_client"}
            if path == "/introspect":
                return 200, {"active": form.get("token") in self.access}
            if form.get("grant_type") == "client_credentials":
                return 200, {"access_token": "at"}
            token = form.get("refresh_token", "")
            if token in self.spent_refresh:
                self.reused.append(token)
            if token not in self.live_refresh:
                return 400, {"error": "invalid_grant"}
            self.live_refresh.discard(token)
            self.spent_refresh.add(token)
            fresh = secrets.token_urlsafe(24)
            self.live_refresh.add(fresh)
            if self.hang_ups and len(self.spent_refresh) > 20:
                self.hang_ups -= 1
                raise ConnectionAbortedError("rotated, answer lost")
            return 200, {"access_token": "at", "refresh_token": fresh}


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # wrk resets its connections when a run ends


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[QuietServer] = []

    def start(platform: Platform) -> str:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes

            def do_GET(self) -> None:
                self._answer("")

            def do_POST(self) -> None:
                self._answer(self.rfile.read(int(self.headers["Content-Length"])).decode())

            def _answer(self, body: str) -> None:
                platform.peers.add(self.client_address)
                try:
                    status, payload = platform.answer(self.command, self.path, self.headers,
                                                      body)
                except ConnectionAbortedError:
                    self.close_connection = True  # no answer at all: wrk sees a read error
                    return
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if self.close_connection:  # asked to close: say so, as granian does
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        server = QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """A second's warm-up, then a second measured."""
    driver = wrk.Wrk(cfg)
    driver.warm_up()
    return driver.measure(1)


def config(base: str, scenario: str, tokens: list[dict[str, str]]) -> dict[str, Any]:
    return {"base": base, "scenario": scenario, "concurrency": 3, "tokens": tokens,
            "client_id": CLIENT[0], "client_secret": CLIENT[1]}


def refresh_tokens(n: int) -> list[dict[str, str]]:
    # "/+=" must be form-encoded in the body, or the stub sees another token.
    return [{"refresh_token": secrets.token_urlsafe(24) + "/+=", "access_token": "-"}
            for _ in range(n)]


def test_refresh_tokens_are_each_sent_once_across_warm_up_and_run(serve: Any) -> None:
    """Every answer's rotated token is the next one sent; a request in flight when a run
    stops is never resent (the bug: the next run reused it and revoked its family)."""
    tokens = refresh_tokens(12)
    platform = Platform({t["refresh_token"] for t in tokens}, set())
    result = run(config(serve(platform), "refresh", tokens))
    assert platform.reused == []
    assert result["errors"] == 0 and result["ok"] > 150
    assert len(platform.spent_refresh) >= result["ok"]  # warm-up spent some too
    assert platform.paths == {("POST", "/token")}


def test_a_refresh_token_whose_answer_was_lost_is_not_sent_again(serve: Any) -> None:
    """The server rotated it but the connection died before the answer: wrk reconnects
    and asks for a request, which must not be that token (a reuse revokes the family)."""
    tokens = refresh_tokens(12)
    platform = Platform({t["refresh_token"] for t in tokens}, set(), hang_up_after_rotating=2)
    result = run(config(serve(platform), "refresh", tokens))
    assert platform.hang_ups == 0  # both answers were lost
    assert platform.reused == []
    assert result["ok"] > 150
    assert result["errors"] <= 2  # the read errors, if they fell in the measured run


def test_every_request_the_server_served_is_counted(serve: Any) -> None:
    """ok + errors is what the server answered between warm-up and the end, give or take
    the requests in flight at either end: the CPU read there is divided by the right count."""
    live = [f"token-{i}" for i in range(6)]
    platform = Platform(set(), set(live))
    tokens = [{"access_token": t} for t in [*live, "dead-1"]]
    driver = wrk.Wrk(config(serve(platform), "userinfo", tokens))
    driver.warm_up()
    platform.start_counting()  # where bench reads the server's CPU
    result = driver.measure(1)
    counted = result["ok"] + result["errors"]
    assert counted <= platform.served <= counted + 2 * 3


@pytest.mark.parametrize(("scenario", "dead", "path"), [
    ("userinfo", 2, ("GET", "/userinfo")),  # answered 401
    ("introspect", 2, ("POST", "/introspect")),  # answered 200 {"active": false}
    ("cc", 0, ("POST", "/token")),
])
def test_only_good_answers_count(serve: Any, scenario: str, dead: int,
                                 path: tuple[str, str]) -> None:
    live = [f"token-{i}" for i in range(6)]
    platform = Platform(set(), set(live))
    tokens = [{"access_token": t} for t in live + [f"dead-{i}" for i in range(dead)]]
    result = run(config(serve(platform), scenario, tokens))
    assert platform.paths == {path}
    assert result["ok"] > 3 * wrk.REQUESTS_PER_CONNECTION
    if dead:
        assert result["errors"] > 0 and result["error_samples"]
        # Each thread cycles through its own slice: a dead token is a fixed share of requests.
        assert result["errors"] < result["ok"]
    else:
        assert result["errors"] == 0 and result["error_samples"] == []


def test_connections_are_reopened_now_and_then(serve: Any) -> None:
    """Every REQUESTS_PER_CONNECTION-th request asks to close, so a run's connections
    are spread over the server's workers by many draws (bench/load.py, round 8)."""
    platform = Platform(set(), {"t"})
    result = run(config(serve(platform), "userinfo", [{"access_token": "t"}] * 3))
    assert result["errors"] == 0
    expected = result["ok"] // wrk.REQUESTS_PER_CONNECTION
    assert platform.closes >= expected > 0
    assert len(platform.peers) > 3 + expected // 2  # new connections (client ports), not 3


def test_a_server_that_is_not_there_is_an_error_not_a_zero() -> None:
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{bound.getsockname()[1]}"
        with pytest.raises(RuntimeError, match="wrk failed in the warm-up of cc"):
            run(config(base, "cc", []))


@pytest.mark.parametrize(("scenario", "tokens", "error"), [
    ("userinfo", 2, "userinfo warm-up: 2 tokens for 3 connections"),
    ("refresh", 0, "refresh warm-up: 0 tokens for 3 connections"),
    ("flow", 6, "wrk drives cc, refresh, userinfo, introspect, not flow"),
])
def test_what_wrk_cannot_drive_is_refused_before_it_starts(scenario: str, tokens: int,
                                                           error: str) -> None:
    given = refresh_tokens(tokens)
    with pytest.raises((RuntimeError, ValueError), match=error):
        run(config("http://127.0.0.1:1", scenario, given))
