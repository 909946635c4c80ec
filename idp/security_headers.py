"""Response headers every page carries (R-70): no framing, no sniffing, strict CSP."""

from __future__ import annotations

from flask import Flask, Response, request

_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self' http: https:; base-uri 'none'")


def init_app(app: Flask) -> None:
    secure = app.config["SESSION_COOKIE_SECURE"]

    @app.after_request
    def _headers(resp: Response) -> Response:
        h = resp.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        if resp.mimetype == "text/html":
            h.setdefault("X-Frame-Options", "DENY")
            h.setdefault("Content-Security-Policy", _CSP)
            h.setdefault("Cache-Control", "no-store")
        if secure and request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return resp
