"""The templates' gettext (idp/i18n.py, bench/README.md round 6): translations looked up
once per request and locale, with Jinja's newstyle semantics — and a locale change within
the request (`flask_babel.refresh`, `force_locale`) still followed by the next message."""

from __future__ import annotations

import pytest
from flask import g, render_template_string
from flask_babel import force_locale, get_translations, refresh
from jinja2 import Environment

CASES = [
    "{{ _('密码') }}",
    "{{ gettext('密码') }}",
    "{{ _('登录') }} · {{ _('忘记密码?') }}",
    "{{ _('100%% 完成') }}",  # newstyle: always a format string, "%%" becomes "%"
    "{{ _('<b>%(name)s</b>', name='<i>x</i>') }}",  # variables escaped, text kept
    "{{ _('没有这条消息 %(n)s', n=3) }}",
    "{{ ngettext('%(num)d 个', '%(num)d 个', 2) }}",
    "{% trans n=2 %}共 {{ n }} 次{% endtrans %}",
]


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("source", CASES)
def test_same_text_as_jinjas_newstyle_gettext(app, lang, source):
    """What Jinja's own i18n extension (newstyle, autoescaped) renders with the same
    catalogue."""
    with app.test_request_context("/"):
        g.locale = lang
        translations = get_translations()
        ours = render_template_string(source)
    reference = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    reference.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    assert ours == reference.from_string(source).render()


def test_catalogue_is_really_used(app):
    with app.test_request_context("/"):
        g.locale = "en"
        assert render_template_string("{{ _('密码') }}") == "Password"


def test_a_refreshed_locale_is_followed_by_the_next_message(app):
    """Fails if the remembered translations outlived the locale they were looked up for."""
    with app.test_request_context("/"):
        g.locale = "en"
        assert render_template_string("{{ _('密码') }}") == "Password"
        g.locale = "zh_CN"
        refresh()
        assert render_template_string("{{ _('密码') }}") == "密码"


def test_force_locale_and_back(app):
    with app.test_request_context("/"):
        g.locale = "zh_CN"
        assert render_template_string("{{ _('密码') }}") == "密码"
        with force_locale("en"):
            assert render_template_string("{{ _('密码') }}") == "Password"
        assert render_template_string("{{ _('密码') }}") == "密码"


def test_each_request_its_own_language(client):
    assert "Password" in client.get("/login?lang=en").get_data(as_text=True)
    fresh = client.application.test_client()
    text = fresh.get("/login").get_data(as_text=True)
    assert "密码" in text and "Password" not in text

