"""Turn real platform exchanges into the stable examples of docs/integration/examples/.

Only values that change on every run are replaced, each by a placeholder that says what it
is (``<client_id>``, ``<iat + 600>``); everything else is exactly what the platform sent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

DOC_ISSUER = "https://idp.example.gov.cn"
DOC_APP = "https://app.example.gov.cn"

VOLATILE = {"sub": "<sub>", "sid": "<sid>", "jti": "<jti>", "client_id": "<client_id>",
            "azp": "<client_id>", "aud": "<client_id>", "code": "<code>",
            "access_token": "<access_token: JWT>", "id_token": "<id_token: JWT>",
            "refresh_token": "<refresh_token: opaque>", "id_token_hint": "<id_token>",
            "client_secret": "<client_secret>", "kid": "<kid>", "gid": "<gid>",
            "at_hash": "<at_hash>",
            "auth_time": "<auth_time>"}  # seconds before iat vary with the machine's speed
TIMES = ("exp", "nbf")  # as offsets from iat: the lifetimes are what a reader needs


class Normaliser:
    """Replaces run-specific values; knows the run's issuer, app URL and client id."""

    def __init__(self, issuer: str, app: str, client_id: str) -> None:
        self.swaps = [(issuer, DOC_ISSUER), (app, DOC_APP)]
        self.client_id = client_id

    def text(self, value: str) -> str:
        for old, new in self.swaps:
            value = value.replace(old, new)
        return value

    def claims(self, data: dict[str, Any]) -> dict[str, Any]:
        iat = data.get("iat")
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key in VOLATILE:
                out[key] = VOLATILE[key]
            elif key == "iat":
                out[key] = "<iat>"
            elif key in TIMES and isinstance(value, int) and isinstance(iat, int):
                out[key] = f"<iat {'+' if value >= iat else '-'} {abs(value - iat)}>"
            elif isinstance(value, str):
                out[key] = self.text(value)
            else:
                out[key] = value
        return out

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        query = [(k, VOLATILE[k] if k in VOLATILE else self.text(v))
                 for k, v in parse_qsl(parts.query)]
        base = self.text(f"{parts.scheme}://{parts.netloc}{parts.path}")
        return base + ("?" + urlencode(query, safe="<>:/") if query else "")


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "integration" / "examples"


def check_examples(produced: dict[str, str]) -> None:
    """Compare with the committed example files; ``IDP_UPDATE_EXAMPLES=1`` rewrites them."""
    if os.environ.get("IDP_UPDATE_EXAMPLES") == "1":
        EXAMPLES.mkdir(parents=True, exist_ok=True)
        for name, content in produced.items():
            (EXAMPLES / name).write_text(content, encoding="utf-8")
    stale = [name for name, content in produced.items()
             if not (EXAMPLES / name).exists()
             or (EXAMPLES / name).read_text(encoding="utf-8") != content]
    assert not stale, (f"docs/integration/examples/ differs from the platform: {stale}; "
                       "run with IDP_UPDATE_EXAMPLES=1 and review the diff")
