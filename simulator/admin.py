"""Simulator-only admin endpoints, loopback only: failure switch and SMS inbox."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, request

bp = Blueprint("sim_admin", __name__, url_prefix="/_sim")

_LOOPBACK = {"127.0.0.1", "::1"}


@bp.before_request
def loopback_only() -> None:
    # Tests and demo scripts run on the same host; nobody else may flip modes or read codes.
    if request.remote_addr not in _LOOPBACK:
        abort(403)


@bp.get("/mode")
def get_modes() -> Response:
    return jsonify(current_app.extensions["simulator"].modes.snapshot())


@bp.post("/mode")
def set_mode() -> tuple[Response, int]:
    """``{"authority": "<name>|all", "mode": "ok|slow|down"}``."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify(error="invalid_request", message="JSON object expected"), 400
    try:
        current_app.extensions["simulator"].modes.set(str(payload.get("authority")),
                                                      str(payload.get("mode")))
    except ValueError as exc:
        return jsonify(error="invalid_request", message=str(exc)), 400
    return jsonify(current_app.extensions["simulator"].modes.snapshot()), 200


@bp.get("/sms")
def list_sms() -> Response:
    """Messages accepted by the SMS gateway, newest first; ``?phone=`` filters."""
    phone = request.args.get("phone") or None
    return jsonify(messages=current_app.extensions["simulator"].sms.for_phone(phone))


@bp.delete("/sms")
def clear_sms() -> tuple[str, int]:
    current_app.extensions["simulator"].sms.clear()
    return "", 204
