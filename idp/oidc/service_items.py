"""Service items a department system offers (issue 4 item 7, R-54, R-42).

A service item is one thing a person can do at a client (``housing:apply`` 住房申请), the
unit of delegated authority: a grant names a client and either ``*`` (the whole system) or
some of its items. Items are declared on the client as ``{"code", "name", "name_en"}``;
a client that declares none offers its registered OAuth scopes instead (what delegation
used before items existed), so older grants keep their meaning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# The delegation scope grammar (idp/delegation/scope.py `_ITEM`), without the wildcard.
CODE = re.compile(r"[A-Za-z0-9._:/\-]{1,128}")
WHOLE_CLIENT = "*"
MAX_ITEMS = 100
MAX_NAME = 100


class ServiceItemError(ValueError):
    """A declaration that cannot be accepted; the message says why."""


def parse(values: Iterable[Any]) -> list[dict[str, str]]:
    """Normalise declarations: dicts, or CLI strings ``code=名称`` / ``code=名称|English``."""
    items: list[dict[str, str]] = []
    for value in values:
        item = _from_text(value) if isinstance(value, str) else value
        if not isinstance(item, dict) or not set(item) <= {"code", "name", "name_en"}:
            raise ServiceItemError("a service item is {code, name, name_en}")
        code, name = item.get("code"), item.get("name")
        name_en = item.get("name_en") or name
        if not isinstance(code, str) or not CODE.fullmatch(code):
            raise ServiceItemError(f"invalid service item code {str(code)[:40]!r}")
        if not all(isinstance(t, str) and t.strip() and len(t) <= MAX_NAME
                   for t in (name, name_en)):
            raise ServiceItemError(f"service item {code!r} needs a name "
                                   f"(at most {MAX_NAME} characters)")
        assert isinstance(name, str) and isinstance(name_en, str)
        items.append({"code": code, "name": name.strip(), "name_en": name_en.strip()})
    codes = [i["code"] for i in items]
    if len(set(codes)) != len(codes):
        raise ServiceItemError("service item codes must be unique")
    if len(items) > MAX_ITEMS:
        raise ServiceItemError(f"at most {MAX_ITEMS} service items")
    return items


def _from_text(text: str) -> dict[str, str]:
    code, sep, names = text.partition("=")
    if not sep:
        raise ServiceItemError(f"write a service item as code=名称[|English]: {text[:40]!r}")
    name, _, name_en = names.partition("|")
    return {"code": code.strip(), "name": name, "name_en": name_en or name}


def offered(client: Any) -> tuple[str, ...]:
    """What a grant may name at ``client``: ``*`` and its item codes (module docstring)."""
    declared = [i["code"] for i in client.service_items or []]
    return (WHOLE_CLIENT, *sorted(declared or client.scope_set))


def names(client: Any) -> dict[str, tuple[str, str]]:
    """Code → (zh-CN name, English name) of the declared items."""
    return {i["code"]: (i["name"], i["name_en"]) for i in client.service_items or []}
