"""URL builders compiled on first use (idp/routing.py) build the same URLs as werkzeug's."""

from __future__ import annotations

import pytest
from flask import url_for
from werkzeug.routing import Map, Rule

from idp.routing import IdpFlask, LazyBuildRule

CASES = [
    ("/a/<int:n>/<path:rest>", {"n": 7, "rest": "x/y z"}, False),
    ("/a/<int:n>/<path:rest>", {"n": 7, "rest": "x", "extra": "1&2", "many": ["a", "b"]}, True),
    ("/static/<path:filename>", {"filename": "css/site.css"}, False),
    ("/plain", {"q": "中文"}, True),
]


@pytest.mark.parametrize(("pattern", "values", "unknown"), CASES)
def test_lazy_builder_builds_what_werkzeug_builds(pattern, values, unknown) -> None:  # type: ignore[no-untyped-def]
    lazy = Map([LazyBuildRule(pattern, endpoint="e")]).bind("idp.test")
    eager = Map([Rule(pattern, endpoint="e")]).bind("idp.test")
    expected = eager.build("e", values)
    assert lazy.build("e", values) == expected
    assert lazy.build("e", values) == expected  # the second call uses the compiled builder
    assert ("?" in expected) is unknown


def test_builders_are_compiled_only_when_used() -> None:
    app = IdpFlask(__name__)
    app.add_url_rule("/x/<int:n>", "x", lambda n: str(n))
    app.add_url_rule("/y", "y", lambda: "y")
    rules = {r.endpoint: r for r in app.url_map.iter_rules()}
    assert rules["x"]._build_unknown.__name__ == "build_once"
    with app.test_request_context():
        assert url_for("x", n=3) == "/x/3"
    assert rules["x"]._build_unknown.__name__ != "build_once"  # compiled, then kept
    assert rules["y"]._build_unknown.__name__ == "build_once"  # never used, never compiled
