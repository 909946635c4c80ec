"""The simulated SMS gateway speaks idp/sms.py HttpSms's contract; admin is loopback only."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from idp.sms import HttpSms, SmsError
from simulator import create_app
from tests.simulator.server import KEY, SMS_KEY, Running, running


@pytest.fixture(scope="module")
def simulator() -> Iterator[Running]:
    with running(create_app(key=KEY, sms_key=SMS_KEY)) as server:
        yield server


@pytest.fixture(autouse=True)
def reset(simulator: Running) -> Iterator[None]:
    yield
    simulator.sim.modes.set("all", "ok")
    simulator.sim.sms.clear()


def inbox(simulator: Running, phone: str) -> list[dict]:  # type: ignore[type-arg]
    resp = requests.get(f"{simulator.url}/_sim/sms", params={"phone": phone}, timeout=2)
    return resp.json()["messages"]  # type: ignore[no-any-return]


def test_http_sms_message_is_stored_and_listed_by_phone(simulator):
    gateway = HttpSms(simulator.url + "/sms/send", SMS_KEY, timeout=2)
    gateway.send("13800138001", "verify_code", {"code": "123456"})
    gateway.send("13800138002", "login_code", {"code": "654321"})
    messages = inbox(simulator, "13800138001")
    assert [(m["template"], m["params"]) for m in messages] == [
        ("verify_code", {"code": "123456"})]
    assert len(requests.get(f"{simulator.url}/_sim/sms", timeout=2).json()["messages"]) == 2


@pytest.mark.parametrize(("key", "mode"), [("wrong-key", "ok"), (SMS_KEY, "down")])
def test_http_sms_failures_raise_sms_error(simulator, key, mode):
    simulator.sim.modes.set("sms", mode)
    with pytest.raises(SmsError):
        HttpSms(simulator.url + "/sms/send", key, timeout=2).send("13800138001", "verify_code",
                                                                  {"code": "1"})
    assert inbox(simulator, "13800138001") == []


@pytest.mark.parametrize(("body", "ts", "status"), [
    (b'{"phone": "13800138001", "template": "t", "params": {}}', -400, 401),
    (b'{"phone": "13800138001", "template": "t", "params": {"code": 1}}', 0, 400),
    (b'{"phone": "138", "template": "t", "params": {}}', 0, 400),
    (b"[]", 0, 400),
])
def test_sms_gateway_refuses_bad_requests(simulator, body, ts, status):
    import hashlib
    import hmac

    stamp = str(int(time.time()) + ts)
    sig = hmac.new(SMS_KEY.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    resp = requests.post(simulator.url + "/sms/send", data=body, timeout=2,
                         headers={"X-Timestamp": stamp, "X-Signature": sig})
    assert resp.status_code == status


@pytest.mark.parametrize("payload", [
    {"authority": "carrier", "mode": "broken"},
    {"authority": "nobody", "mode": "down"},
    {"mode": "down"},
    ["carrier", "down"],
])
def test_mode_switch_refuses_bad_input(simulator, payload):
    resp = requests.post(f"{simulator.url}/_sim/mode", json=payload, timeout=2)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
    assert set(simulator.sim.modes.snapshot().values()) == {"ok"}


def test_mode_switch_flips_one_or_all(simulator):
    resp = requests.post(f"{simulator.url}/_sim/mode", json={"authority": "bank", "mode": "slow"},
                         timeout=2)
    assert resp.json()["bank"] == "slow" and resp.json()["carrier"] == "ok"
    requests.post(f"{simulator.url}/_sim/mode", json={"authority": "all", "mode": "down"},
                  timeout=2)
    assert set(requests.get(f"{simulator.url}/_sim/mode", timeout=2).json().values()) == {"down"}


@pytest.mark.parametrize(("method", "path"), [("POST", "/_sim/mode"), ("GET", "/_sim/sms")])
def test_admin_endpoints_refuse_non_loopback_callers(method, path):
    client = create_app().test_client()
    resp = client.open(path, method=method, json={"authority": "all", "mode": "down"},
                       environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert resp.status_code == 403


def test_unknown_paths_get_json_errors(simulator):
    resp = requests.get(simulator.url + "/nowhere", timeout=2)
    assert resp.status_code == 404 and resp.json()["error"] == "not_found"
