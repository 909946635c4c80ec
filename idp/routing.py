"""URL rules whose builders are compiled on first use.

Werkzeug compiles two Python functions per rule (``url_for`` builders) when the rule is
added: for our ~300 rules that is most of the time `create_app` takes. Most rules are never
built in a given process (a worker serving /token never calls ``url_for`` for the console),
so each builder is compiled the first time ``url_for`` needs it. Matching is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.routing import Rule


class LazyBuildRule(Rule):
    """A `Rule` that compiles each URL builder on its first call, then calls it directly."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        attribute = "_build_unknown" if append_unknown else "_build"
        compile_now = super()._compile_builder

        def build_once(rule: LazyBuildRule, **values: Any) -> tuple[str, str]:
            built = compile_now(append_unknown).__get__(rule, None)
            setattr(rule, attribute, built)  # later calls skip this wrapper
            return built(**values)  # type: ignore[no-any-return]

        return build_once


class IdpFlask(Flask):
    """Flask with lazily compiled URL builders (see `LazyBuildRule`)."""

    url_rule_class = LazyBuildRule
