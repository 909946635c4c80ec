"""Validation responses: CAS 2.0/3.0 XML and the CAS 3.0 JSON form (§2.5.2, §2.6.2, §2.7.2).

Built by string assembly over escaped values — the element names are ours, never the
caller's — so no XML library parses anything a client sent.
"""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

NS = "http://www.yale.edu/tp/cas"

# Error codes of §2.5.3 (validation), §2.7.3 (proxy) and Apereo's proxy refusal.
INVALID_REQUEST = "INVALID_REQUEST"
INVALID_TICKET_SPEC = "INVALID_TICKET_SPEC"
INVALID_TICKET = "INVALID_TICKET"
INVALID_SERVICE = "INVALID_SERVICE"
UNAUTHORIZED_SERVICE = "UNAUTHORIZED_SERVICE"
UNAUTHORIZED_SERVICE_PROXY = "UNAUTHORIZED_SERVICE_PROXY"
INVALID_PROXY_CALLBACK = "INVALID_PROXY_CALLBACK"
INTERNAL_ERROR = "INTERNAL_ERROR"


class CasError(Exception):
    """A validation failure with its spec code; ``description`` is safe to return."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(code)
        self.code = code
        self.description = description


def _values(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value]
    return [("true" if v else "false") if isinstance(v, bool) else str(v) for v in items]


def success(user: str, attributes: dict[str, Any] | None, fmt: str) -> str:
    """``authenticationSuccess``; attributes only for the CAS 3.0 endpoints."""
    if fmt == "JSON":
        body: dict[str, Any] = {"user": user}
        if attributes is not None:
            body["attributes"] = {k: _values(v) for k, v in attributes.items()}
        return json.dumps({"serviceResponse": {"authenticationSuccess": body}},
                          ensure_ascii=False)
    parts = [f"<cas:user>{escape(user)}</cas:user>"]
    if attributes is not None:
        parts.append("<cas:attributes>")
        for name, value in attributes.items():
            parts.extend(f"<cas:{name}>{escape(v)}</cas:{name}>" for v in _values(value))
        parts.append("</cas:attributes>")
    return _envelope(f"<cas:authenticationSuccess>{''.join(parts)}</cas:authenticationSuccess>")


def failure(error: CasError, fmt: str, element: str = "authenticationFailure") -> str:
    """``authenticationFailure`` (or ``proxyFailure``) with the spec code."""
    if fmt == "JSON":
        return json.dumps({"serviceResponse": {element: {"code": error.code,
                                                         "description": error.description}}},
                          ensure_ascii=False)
    return _envelope(f'<cas:{element} code="{error.code}">{escape(error.description)}'
                     f"</cas:{element}>")


def _envelope(inner: str) -> str:
    return f'<cas:serviceResponse xmlns:cas="{NS}">{inner}</cas:serviceResponse>\n'
