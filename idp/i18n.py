"""Language selection: zh-CN first, English available (Flask-Babel).

Order: an explicit ``ui_locales`` / ``lang`` parameter, the ``lang`` cookie, the browser's
Accept-Language, then Simplified Chinese.
"""

from __future__ import annotations

from babel import Locale
from babel.support import NullTranslations
from flask import Flask, g, request
from flask_babel import Babel, get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
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


def _translations() -> NullTranslations:
    """`flask_babel.get_translations`, looked up once per request and locale.

    Flask-Babel resolves the request's context, domain, locale and cache key (``str`` of
    the Locale) on every message: a login page's ≈ 20 template messages spent ≈ 1/5 of its
    CPU there (bench/README.md, round 6). The answer is remembered on Flask-Babel's own
    per-request namespace next to the locale and domain it was computed for, and reused
    only while both are the very same objects — `flask_babel.refresh` and `force_locale`
    replace the locale, `Domain.as_default` the domain, and the next message follows.
    """
    try:
        ctx = g._flask_babel
        cached = ctx.idp_translations
        if cached[0] is ctx.babel_locale and cached[1] is ctx.babel_domain:
            return cached[2]  # type: ignore[no-any-return]
    except (AttributeError, RuntimeError):  # first message, or no app context
        pass
    translations = get_translations()
    try:
        ctx = g._flask_babel
        ctx.idp_translations = (ctx.babel_locale, ctx.babel_domain, translations)
    except (AttributeError, RuntimeError):  # outside a request: nothing to remember
        pass
    return translations


@pass_context
def _template_gettext(context: Context, string: str, /, **variables: object) -> str:
    """A template's ``_("…")`` / ``gettext("…")``: what Jinja's newstyle gettext
    (``jinja2.ext._make_new_gettext``, reached through ``_gettext_alias``) answers, without
    its two `Context.call` hops per message (bench/README.md, round 6).

    Newstyle semantics kept: the text is marked safe when autoescaping, and always treated
    as a format string (``%%`` → ``%``, ``%(name)s`` filled); ``%`` is skipped only where
    it cannot change anything (no variables and no ``%`` in the text).
    """
    rv = _translations().ugettext(string)
    if context.eval_ctx.autoescape:
        rv = Markup(rv)
    return rv % variables if variables or "%" in rv else rv


def _install_template_gettext(app: Flask) -> None:
    """The templates' gettext functions as Flask-Babel installs them (newstyle), over
    `_translations`; ``_`` and ``gettext`` go straight to `_template_gettext`."""
    env = app.jinja_env
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )
    env.globals.update(_=_template_gettext, gettext=_template_gettext)


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=_selected_locale,
          default_translation_directories="web/translations")
    _install_template_gettext(app)

    @app.context_processor
    def _locale() -> dict[str, object]:
        from flask_babel import get_locale

        # Babel expands zh_CN to zh_Hans_CN: compare languages, not strings.
        locale = get_locale()
        loc = "zh_CN" if locale is None or locale.language == "zh" else "en"
        return {"current_locale": loc, "html_lang": "zh-CN" if loc == "zh_CN" else "en"}
