"""The gateway's few pages, bilingual (zh-CN first, then English), no template engine."""

from __future__ import annotations

from html import escape

from werkzeug.wrappers import Response

STYLE = ("body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;max-width:36rem;"
         "margin:4rem auto;padding:0 1rem;color:#1f2329}button{padding:.5rem 1.5rem}")


def page(title_zh: str, title_en: str, body: str, status: int = 200) -> Response:
    """A complete page; ``body`` is trusted HTML built by this module's callers."""
    html = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title_zh)} {escape(title_en)}</title><style>{STYLE}</style>"
            f"</head><body><h1>{escape(title_zh)}</h1><p lang=\"en\">{escape(title_en)}</p>"
            f"{body}</body></html>")
    resp = Response(html, status=status, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
    return resp


def message(zh: str, en: str, status: int) -> Response:
    body = f'<p>{escape(zh)}</p><p lang="en">{escape(en)}</p><p><a href="/">返回首页 Home</a></p>'
    return page("统一身份认证", "Unified identity authentication", body, status)


def confirm_logout(csrf: str) -> Response:
    body = ('<form method="post" action="/_gw/logout">'
            f'<input type="hidden" name="csrf_token" value="{escape(csrf)}">'
            '<button type="submit">退出登录 Sign out</button></form>')
    return page("确认退出", "Sign out of this system and the platform?", body)


def signed_out() -> Response:
    return message("您已退出登录。", "You have signed out.", 200)
