"""Simulated SMS gateway implementing idp/sms.py `HttpSms`'s contract (docs/authorities.md).

``POST /sms/send`` with JSON ``{phone, template, params}``, ``X-Timestamp`` and
``X-Signature = hex(HMAC-SHA256(key, timestamp + "." + body))``. Accepted messages are kept
in memory for ``GET /_sim/sms`` (admin.py), where tests read the codes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from flask import Blueprint, Response, current_app, jsonify, request

from simulator.signing import MAX_SKEW

bp = Blueprint("sms", __name__)


def _error(status: int, code: str) -> tuple[Response, int]:
    return jsonify(error=code), status


@bp.post("/sms/send")
def send() -> tuple[Response, int]:
    """Accept one templated message after checking timestamp and signature."""
    sim = current_app.extensions["simulator"]
    mode = sim.modes.get("sms")
    if mode == "down":
        return _error(503, "unavailable")
    if mode == "slow":
        time.sleep(sim.config.slow_seconds)
    body = request.get_data(cache=True)
    ts = request.headers.get("X-Timestamp", "")
    signature = request.headers.get("X-Signature", "")
    if not ts.isdigit() or abs(int(ts) - time.time()) > MAX_SKEW:
        return _error(401, "stale_timestamp")
    wanted = hmac.new(sim.sms_key, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(wanted, signature.lower()):
        return _error(401, "bad_signature")
    payload = request.get_json(silent=True)
    if not _valid(payload):
        return _error(400, "invalid_request")
    message_id = "SIM-SMS-" + secrets.token_hex(6)
    sim.sms.add({"id": message_id, "phone": payload["phone"], "template": payload["template"],
                 "params": payload["params"], "at": time.time()})
    return jsonify(id=message_id), 200


def _valid(payload: object) -> bool:
    if not isinstance(payload, dict):
        return False
    phone, template, params = (payload.get(k) for k in ("phone", "template", "params"))
    return (isinstance(phone, str) and 5 <= len(phone) <= 20 and isinstance(template, str)
            and bool(template) and isinstance(params, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in params.items()))
