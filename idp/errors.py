"""Error responses: problem details for the JSON API (RFC 9457), pages for people.

Never a stack trace; an unexpected error is logged with a reference the user can quote.
OAuth endpoints produce their own RFC 6749 errors before reaching here.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask.globals import request_ctx
from flask_babel import gettext as _
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError

from idp.crypto import random_token

log = logging.getLogger(__name__)

_TITLES = {
    400: "请求无效",
    403: "无权访问",
    404: "页面不存在",
    405: "不支持的请求方法",
    413: "请求内容过大",
    429: "请求过于频繁",
    500: "服务暂时不可用",
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def problem(status: int, title: str, detail: str = "", type_: str = "about:blank",
            **extra: object) -> Response:
    """An RFC 9457 problem details response."""
    body = {"type": type_, "title": title, "status": status, **extra}
    if detail:
        body["detail"] = detail
    resp = jsonify(body)
    resp.status_code = status
    resp.mimetype = "application/problem+json"
    return resp


def _page(status: int, message: str) -> tuple[str, int]:
    title = _(_TITLES.get(status, "请求无效"))
    if request_ctx.url_adapter is None:
        # The Host header could not be bound to the URL map (werkzeug's BadHost): the
        # page's links cannot be built, so answer with a bare page instead of failing.
        return (f"<!doctype html><meta charset=\"utf-8\"><title>{escape(title)}</title>"
                f"<h1>{escape(title)}</h1><p>{escape(message)}</p>"), status
    return render_template("error.html", title=title, message=message, status=status), status


def _too_large() -> Response | tuple[str, int]:
    """413: say what the limit is, in the caller's terms, never Werkzeug's own page."""
    limit = request.max_content_length or 0
    size = f"{limit / (1024 * 1024):.1f} MiB"
    if wants_json():
        return problem(413, _TITLES[413], f"The request body is larger than the limit of "
                       f"{limit} bytes.", type_="urn:idp:problem:request_too_large",
                       max_bytes=limit)
    return _page(413, _("提交的内容超过上限(%(size)s),未被接收。请缩小或压缩文件后重新提交。",
                        size=size))


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 400
        if status == 413:
            return _too_large()
        detail = exc.description if exc.description and exc.description != "csrf" else ""
        if exc.description == "csrf":
            detail = _("页面已过期,请刷新后重试。")
        if wants_json():
            return problem(status, _TITLES.get(status, "Error"), detail)
        return _page(status, detail or "")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        if isinstance(exc, HTTPException):
            return _http(exc)
        ref = random_token(6)
        log.exception("unexpected error ref=%s path=%s", ref, request.path)
        if wants_json():
            return problem(500, "Internal error", f"reference {ref}")
        return _page(InternalServerError.code, _("请稍后再试。参考编号:%(ref)s", ref=ref))
