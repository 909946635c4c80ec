"""`idp.integration.selfcheck`: registered-URI rules and the back-channel probe."""

from __future__ import annotations

import pytest
import requests

from idp.integration.selfcheck import check_registration, check_uri, probe_backchannel


@pytest.mark.parametrize(("uri", "failing"), [
    ("https://sb.xm.gov.cn/oidc/callback", set()),
    ("http://127.0.0.1:8000/oidc/callback", set()),
    ("http://localhost/cb", set()),
    ("http://sb.xm.gov.cn/cb", {"redirect:https"}),
    ("https://sb.xm.gov.cn/cb#frag", {"redirect:no-fragment"}),
    ("https://*.xm.gov.cn/cb", {"redirect:exact"}),
    ("/relative/cb", {"redirect:https", "redirect:absolute"}),
])
def test_uri_rules(uri: str, failing: set[str]) -> None:
    assert {c.rule for c in check_uri("redirect", uri) if not c.ok} == failing


@pytest.mark.parametrize(("answer", "ok", "rule"), [
    (400, True, "backchannel:rejects-invalid"),
    (200, False, "backchannel:rejects-invalid"),
    (302, False, "backchannel:rejects-invalid"),
    (500, False, "backchannel:rejects-invalid"),
    (requests.ConnectionError(), False, "backchannel:reachable"),
])
def test_backchannel_probe(answer: object, ok: bool, rule: str) -> None:
    sent: list[dict[str, str]] = []

    def post(url: str, data: dict[str, str]) -> int:
        sent.append(data)
        if isinstance(answer, Exception):
            raise answer
        return int(answer)  # type: ignore[call-overload]

    found = probe_backchannel("https://sb.xm.gov.cn/bc", post)
    assert (found.ok, found.rule) == (ok, rule)
    assert sent[0]["logout_token"].count(".") == 2  # looks like a JWT, is not a valid one


def test_missing_uris_are_reported_without_network() -> None:
    found = check_registration({"redirect_uris": [], "backchannel_logout_uri": None},
                               network=False)
    assert {c.rule for c in found if not c.ok} == {"redirect:registered",
                                                    "backchannel:registered"}
