"""Development-only pages (debug/testing): the SMS outbox."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from idp.platform import current_platform
from idp.sms import OutboxSms

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.get("/sms")
def sms_outbox():  # type: ignore[no-untyped-def]
    """Recent outbox messages, as a page or JSON (``?phone=`` narrows to one phone)."""
    sms = current_platform().sms
    messages = sms.messages(request.args.get("phone")) if isinstance(sms, OutboxSms) else []
    if request.accept_mimetypes.best == "application/json" or request.args.get("format") == "json":
        return jsonify([m.__dict__ for m in messages])
    return render_template("dev_sms.html", messages=messages)
