"""Request size at the counter (R-22): a full-size scan fits, a larger request is a clear error.

The app caps ordinary requests at 1 MiB; the legal-person registration routes get room for a
scan of every document at ``licence_image_max_bytes`` (2 MiB by default), raw in the page's
form and base64 (4/3 larger) in the API's JSON. Anything larger is refused with 413 as RFC 9457
problem details on /api/* and as a readable page elsewhere, never Werkzeug's own page.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from admin_ui.counter_org import DOCUMENTS, upload_limit
from idp.platform import Platform
from tests.admin.counter_world import CARD, PHONE, Counter, typed_in_case
from tests.admin.test_counter_org import AGENT, E01, b64, orgs, register

pytestmark = pytest.mark.usefixtures("counter_authorities")

MIB = 1024 * 1024
FULL = 2 * MIB  # the default licence_image_max_bytes


def full_size(magic: bytes) -> bytes:
    return magic + b"\x00" * (FULL - len(magic))


PNG = full_size(b"\x89PNG\r\n\x1a\n")
PDF = full_size(b"%PDF-1.4\n")
DOCS = list(DOCUMENTS)


def test_the_default_scan_limit_is_what_the_routes_take(platform: Platform) -> None:
    assert platform.settings.licence_image_max_bytes == FULL
    assert upload_limit(FULL, base64_body=True) >= len(DOCUMENTS) * len(b64(PNG))
    assert upload_limit(FULL, base64_body=False) >= len(DOCUMENTS) * FULL


def test_full_size_scans_fit_through_the_api(clerk: Counter, make_citizen,
                                             platform: Platform) -> None:
    make_citizen(id_number=CARD["id_number"], name="刘洋", phone=PHONE)
    resp = register(clerk, clerk.case(), {
        **E01, "route": "agent", **AGENT, "documents": DOCS,
        "scans": {"business_licence": b64(PNG), "power_of_attorney": b64(PDF)},
        "agreement_signed": True, "agreement_version": "2024-01"})
    assert resp.status_code == 201, resp.json
    assert orgs(platform) == 1


def _case_page(browser: FlaskClient, platform: Platform) -> tuple[str, str]:
    token, case = typed_in_case(browser, platform, "clerk9")
    return f"{case}/org", token


def _page_form(platform: Platform, token: str, *scans: tuple[str, bytes]) -> dict[str, Any]:
    return {**E01, "route": "agent", **AGENT, "csrf_token": token, "documents": DOCS,
            "signed": "yes", "version": platform.settings.agreement_version,
            **{f"scan_{doc}": (io.BytesIO(data), f"{doc}.bin") for doc, data in scans}}


def test_full_size_scans_fit_through_the_page(app: Flask, platform: Platform,
                                              make_citizen) -> None:
    make_citizen(id_number=CARD["id_number"], name="刘洋", phone=PHONE)
    browser = app.test_client()
    page, token = _case_page(browser, platform)
    done = browser.post(page, content_type="multipart/form-data", data=_page_form(
        platform, token, ("business_licence", PNG), ("power_of_attorney", PDF)))
    assert done.status_code == 200, done.get_data(as_text=True)[:400]
    assert "法人账号已开通" in done.get_data(as_text=True) and orgs(platform) == 1


WERKZEUG_WORDS = ("Request Entity Too Large", "exceeds the capacity limit")


@pytest.mark.parametrize(("path", "size"), [
    ("/api/v1/admin/counter/cases/{case}/org-registration",
     upload_limit(FULL, base64_body=True) + 1),
    ("/api/v1/admin/counter/card-reads", MIB + 1),  # ordinary API calls keep 1 MiB
    ("/api/v1/admin/session", 2 * MIB),
])
def test_an_oversized_api_request_is_a_problem(clerk: Counter, platform: Platform,
                                               path: str, size: int) -> None:
    case = clerk.case()
    body = b'{"scans": {"business_licence": "' + b"A" * size + b'"}}'
    resp = clerk.client.post(path.format(case=case), data=body, headers={
        **clerk.headers, "Content-Type": "application/json"})
    assert resp.status_code == 413
    assert resp.mimetype == "application/problem+json"
    problem = resp.json
    assert problem["type"] == "urn:idp:problem:request_too_large" and problem["status"] == 413
    assert problem["title"] == "请求内容过大" and problem["max_bytes"] < size
    assert not any(w in resp.get_data(as_text=True) for w in WERKZEUG_WORDS)
    assert orgs(platform) == 0


@pytest.mark.parametrize(("language", "words"), [
    ("zh-CN", "提交的内容超过上限"),
    ("en", "larger than the limit"),
])
@pytest.mark.parametrize("where", ["counter_org", "citizen_login"])
def test_an_oversized_page_request_is_a_readable_page(app: Flask, platform: Platform,
                                                      language: str, words: str,
                                                      where: str) -> None:
    browser = app.test_client()
    if where == "counter_org":
        page, token = _case_page(browser, platform)
        big = full_size(b"\x89PNG\r\n\x1a\n") + b"\x00" * (FULL * len(DOCUMENTS))
        data = _page_form(platform, token, ("business_licence", big))
    else:
        page, data = "/login", {"identifier": "x" * (MIB + 1), "password": "x"}
    resp = browser.post(page, data=data, content_type="multipart/form-data",
                        headers={"Accept-Language": language})
    assert resp.status_code == 413 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert words in html and not any(w in html for w in WERKZEUG_WORDS)
    assert orgs(platform) == 0
