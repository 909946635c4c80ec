"""The OpenAPI 3.1 document, assembled from the operations the API modules declare."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_PATHS: dict[str, dict[str, dict[str, Any]]] = {}
_SCHEMAS: dict[str, dict[str, Any]] = {}

PROBLEM = {"description": "Problem details (RFC 9457)",
           "content": {"application/problem+json": {
               "schema": {"$ref": "#/components/schemas/Problem"}}}}


def schema(name: str, definition: dict[str, Any]) -> dict[str, str]:
    """Register a named JSON Schema; returns a ``$ref`` to it."""
    _SCHEMAS[name] = definition
    return {"$ref": f"#/components/schemas/{name}"}


def operation(path: str, method: str, *, summary: str, tag: str,
              request: dict[str, Any] | None = None, response: dict[str, Any] | None = None,
              status: int = 200, bearer: bool = True,
              problems: tuple[int, ...] = (400, 422)) -> Callable[[F], F]:
    """Describe an API operation (``path`` as in OpenAPI, e.g. ``/api/v1/qr/{ticket}``)."""

    def register(view: F) -> F:
        op: dict[str, Any] = {"summary": summary, "tags": [tag],
                              "operationId": view.__name__,
                              "description": (view.__doc__ or "").strip()}
        if request is not None:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": request}}}
        op["responses"] = {str(status): {"description": "OK", **({"content": {
            "application/json": {"schema": response}}} if response else {})}}
        for code in problems + ((401,) if bearer else ()):
            op["responses"][str(code)] = PROBLEM
        if bearer:
            op["security"] = [{"bearer": []}]
        _PATHS.setdefault(path, {})[method.lower()] = op
        return view

    return register


def document(issuer: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "统一身份认证平台 API · Unified identity platform API",
                 "version": "1"},
        "servers": [{"url": issuer}],
        "paths": dict(sorted(_PATHS.items())),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT (RFC 9068)"}},
            "schemas": {"Problem": {
                "type": "object", "required": ["type", "title", "status"],
                "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                               "status": {"type": "integer"}, "detail": {"type": "string"},
                               "errors": {"type": "array", "items": {"type": "object"}}}},
                **_SCHEMAS},
        },
    }
