"""Language selection: zh-CN first, English available (Flask-Babel).

Order: an explicit ``ui_locales`` / ``lang`` parameter, the ``lang`` cookie, the browser's
Accept-Language, then Simplified Chinese.
"""

from __future__ import annotations

from babel import Locale
from flask import Flask, g, request
from flask_babel import Babel
from werkzeug.exceptions import HTTPException

SUPPORTED = ("zh_CN", "en")


def _match(tag: str) -> str | None:
    tag = tag.strip().replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_CN"
    if tag.startswith("en"):
        return "en"
    return None


def _form_ui_locales() -> str | None:
    """``ui_locales`` of a POSTed authorization request, if the body can be read at all.

    The error page for an unreadable body (413, bad encoding) also comes through here, so
    reading the form must not raise a second time.
    """
    if request.method != "POST":
        return None
    try:
        return request.form.get("ui_locales")
    except HTTPException:
        return None


def select_locale() -> str:
    if hasattr(g, "locale"):
        return str(g.locale)
    for source in (request.args.get("ui_locales"), request.args.get("lang"),
                   _form_ui_locales(),
                   request.cookies.get("lang")):
        for tag in (source or "").split():
            found = _match(tag)
            if found:
                return found
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"])
    return _match(best) if best else "zh_CN"  # type: ignore[return-value]


# Parsed once: Flask-Babel passes the selector's answer to ``Locale.parse``, which returns a
# Locale unchanged but re-parses (and normalises against the CLDR list) every string — a
# measurable part of each page request (bench/README.md, round 2).
_LOCALES = {tag: Locale.parse(tag) for tag in SUPPORTED}


def _selected_locale() -> Locale:
    tag = select_locale()
    return _LOCALES.get(tag) or Locale.parse(tag)


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=_selected_locale,
          default_translation_directories="web/translations")

    @app.context_processor
    def _locale() -> dict[str, object]:
        from flask_babel import get_locale

        # Babel expands zh_CN to zh_Hans_CN: compare languages, not strings.
        locale = get_locale()
        loc = "zh_CN" if locale is None or locale.language == "zh" else "en"
        return {"current_locale": loc, "html_lang": "zh-CN" if loc == "zh_CN" else "en"}
