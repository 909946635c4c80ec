"""Every user-facing string in the code and templates has an English translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "idp/web/translations/en/LC_MESSAGES/messages.po"
METHODS = [("idp/**.py", "python"), ("idp/**/templates/**.html", "jinja2")]


def test_every_extracted_string_is_translated_to_english():
    with CATALOGUE.open("rb") as f:
        catalogue = read_po(f)
    missing = []
    for _file, _line, message, _comments, _ctx in extract_from_dir(str(ROOT), METHODS):
        msgid = message[0] if isinstance(message, tuple) else message
        found = catalogue.get(msgid)
        strings = found.string if found is not None else ""
        if not (all(strings) if isinstance(strings, tuple | list) else strings):
            missing.append(msgid)
    assert missing == []


def test_compiled_catalogue_matches_its_source():
    """The .mo served at run time holds every translation of the .po (pybabel compile)."""
    with CATALOGUE.open("rb") as f:
        source = dict(_entries(read_po(f)))
    with CATALOGUE.with_suffix(".mo").open("rb") as f:
        compiled = dict(_entries(read_mo(f)))
    assert compiled == source, "run: pybabel compile -d idp/web/translations"


def _entries(catalogue):  # type: ignore[no-untyped-def]
    """(msgid, translation) pairs; plural forms as tuples so they compare and hash."""
    for m in catalogue:
        if m.id and not m.fuzzy:
            key = tuple(m.id) if isinstance(m.id, list | tuple) else m.id
            value = tuple(m.string) if isinstance(m.string, list | tuple) else m.string
            yield key, value
