"""Signing, replay and timestamp rules of the authority contract, spoken as raw HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests

from idp.realname.sources.signing import sign, signed_headers, string_to_sign
from simulator import create_app
from simulator.state import NonceCache
from tests.simulator.server import CLIENT_ID, KEY, Running, running

PATH = "/population/v1/verify"
BODY = json.dumps({"name": "张伟", "document_type": "resident_id",
                   "document_number": "110101198503120017"}, ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def simulator() -> Iterator[Running]:
    with running(create_app(key=KEY, client_id=CLIENT_ID)) as server:
        yield server


def post(simulator: Running, headers: dict[str, str], body: bytes = BODY) -> requests.Response:
    return requests.post(simulator.url + PATH, data=body, timeout=2,
                         headers={**headers, "Content-Type": "application/json"})


def test_string_to_sign_matches_documented_example():
    # The worked example in docs/authorities.md, "Signing".
    canonical = string_to_sign("post", "/carrier/v1/three-element", "1700000000",
                               "0123456789abcdef0123456789abcdef", b"{}")
    assert canonical == (b"POST\n/carrier/v1/three-element\n1700000000\n"
                         b"0123456789abcdef0123456789abcdef\n"
                         b"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
    assert sign(b"simulator-dev-key-change-me", "POST", "/carrier/v1/three-element",
                "1700000000", "0123456789abcdef0123456789abcdef", b"{}") == DOC_SIGNATURE


DOC_SIGNATURE = "5b376cf5f4af08ea5758fd0f468d6f7948d24808d3f5c8e67b923c9515e5cd7e"


def test_signed_request_is_answered(simulator):
    resp = post(simulator, signed_headers(CLIENT_ID, KEY.encode(), "POST", PATH, BODY))
    assert resp.status_code == 200
    assert resp.json()["verdict"] == "match"
    assert set(resp.json()) == {"verdict", "reference"}  # no record comes back


def test_replayed_nonce_is_refused(simulator):
    headers = signed_headers(CLIENT_ID, KEY.encode(), "POST", PATH, BODY)
    assert post(simulator, headers).status_code == 200
    replay = post(simulator, headers)
    assert (replay.status_code, replay.json()["error"]) == (401, "replayed_nonce")


def _headers_at(ts: int, nonce: str = "f" * 32, body: bytes = BODY) -> dict[str, str]:
    return {"X-Client-Id": CLIENT_ID, "X-Timestamp": str(ts), "X-Nonce": nonce,
            "X-Signature": sign(KEY.encode(), "POST", PATH, str(ts), nonce, body)}


@pytest.mark.parametrize(("mutate", "code"), [
    (lambda h: {**h, "X-Timestamp": str(int(time.time()) - 301)}, "stale_timestamp"),
    (lambda h: _headers_at(int(time.time()) - 301, "a" * 32), "stale_timestamp"),
    (lambda h: _headers_at(int(time.time()) + 301, "b" * 32), "stale_timestamp"),
    (lambda h: {**h, "X-Timestamp": "soon"}, "stale_timestamp"),
    (lambda h: {k: v for k, v in h.items() if k != "X-Signature"}, "missing_signature"),
    (lambda h: {k: v for k, v in h.items() if k != "X-Nonce"}, "missing_signature"),
    (lambda h: {**h, "X-Nonce": "short"}, "bad_nonce"),
    (lambda h: {**h, "X-Signature": "0" * 64}, "bad_signature"),
    (lambda h: {**h, "X-Client-Id": "nobody"}, "unknown_client"),
])
def test_bad_signing_headers_are_refused(simulator, mutate, code):
    headers = mutate(signed_headers(CLIENT_ID, KEY.encode(), "POST", PATH, BODY))
    resp = post(simulator, headers)
    assert (resp.status_code, resp.json()["error"]) == (401, code)


def test_tampered_body_is_refused(simulator):
    headers = signed_headers(CLIENT_ID, KEY.encode(), "POST", PATH, BODY)
    resp = post(simulator, headers, BODY.replace("张伟".encode(), "李四".encode()))
    assert (resp.status_code, resp.json()["error"]) == (401, "bad_signature")


def test_signature_is_bound_to_the_path(simulator):
    headers = signed_headers(CLIENT_ID, KEY.encode(), "POST", "/carrier/v1/three-element", BODY)
    resp = post(simulator, headers)
    assert resp.json()["error"] == "bad_signature"


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"name": "x"}'])
def test_signed_but_malformed_body_is_400(simulator, body):
    resp = post(simulator, signed_headers(CLIENT_ID, KEY.encode(), "POST", PATH, body), body)
    assert (resp.status_code, resp.json()["error"]) == (400, "invalid_request")


def test_nonce_cache_forgets_after_its_ttl():
    cache = NonceCache(ttl=10)
    assert cache.add("n1", now=1000.0)
    assert not cache.add("n1", now=1005.0)
    assert cache.add("n1", now=1011.0)
