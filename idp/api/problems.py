"""RFC 9457 problem details for the JSON API, and small request-body validation."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from idp.errors import problem

PROBLEM_BASE = "urn:idp:problem:"


class ApiProblem(Exception):
    """Raise anywhere in an API view; answered as ``application/problem+json``.

    ``code`` becomes the problem ``type`` (``urn:idp:problem:<code>``) so clients can branch
    on it; ``title`` is a short human summary in the request's language; ``extra`` members
    (e.g. ``errors``, ``retry_after``) are added to the body.
    """

    def __init__(self, status: int, code: str, title: str, detail: str = "",
                 **extra: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.extra = extra


def problem_response(exc: ApiProblem) -> Response:
    resp = problem(exc.status, exc.title, exc.detail, type_=PROBLEM_BASE + exc.code,
                   **exc.extra)
    if exc.status == 429 and "retry_after" in exc.extra:
        resp.headers["Retry-After"] = str(exc.extra["retry_after"])
    return resp


def json_body(fields: dict[str, tuple[type, int]], *, optional: frozenset[str] = frozenset()
              ) -> dict[str, Any]:
    """The request's JSON object with each field of the given type and maximum length.

    ``fields`` maps a name to ``(type, max_length)``; every problem is reported at once as
    ``errors: [{"field": …, "code": "missing|type|too_long"}]`` with status 422.
    """
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiProblem(400, "invalid_json", "请求体必须是 JSON 对象",
                         "The body must be a JSON object.")
    errors = []
    for name, (kind, max_len) in fields.items():
        value = data.get(name)
        if value is None:
            if name not in optional:
                errors.append({"field": name, "code": "missing"})
            continue
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            errors.append({"field": name, "code": "type", "expected": kind.__name__})
        elif isinstance(value, str | list) and len(value) > max_len:
            errors.append({"field": name, "code": "too_long", "max": max_len})
    if errors:
        raise ApiProblem(422, "validation", "请求内容有误", "Some fields are invalid.",
                         errors=errors)
    return {name: data.get(name) for name in fields}
