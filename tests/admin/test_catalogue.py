"""Every console string has an English translation (the shared catalogue, admin_ui part)."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.web.test_catalogue import CATALOGUE, ROOT

METHODS = [("admin_ui/**.py", "python"), ("admin_ui/**/templates/**.html", "jinja2")]


def test_every_console_string_is_translated_to_english() -> None:
    with CATALOGUE.open("rb") as f:
        catalogue = read_po(f)
    extracted = [m[0] if isinstance(m, tuple) else m
                 for _f, _l, m, _c, _x in extract_from_dir(str(ROOT), METHODS)]
    assert len(extracted) > 50
    missing = [m for m in extracted if not (catalogue.get(m) and catalogue.get(m).string)]
    assert missing == []
