"""Printing a signed agreement: own cases, or a reprint with a reason; always audited (R-50).

A person id in a URL is easy to enumerate: a clerk prints for the people whose counter
case they handled; anyone else only as a reprint with a reason (issue 5 review item 3).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from idp.audit.models import AuditRecord
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.counter_world import Counter
from tests.admin.helpers import STAFF_PASSWORD, audit, make_local_staff, page_sign_in

pytestmark = pytest.mark.usefixtures("counter_authorities")

PRINTS = ["/api/v1/admin/counter/persons/{p}/agreement",
          "/api/v1/admin/counter/persons/{p}/agreement.pdf"]


def _registered(clerk: Counter) -> int:
    resp = clerk.activate(clerk.verified())
    assert resp.status_code == 201, resp.json
    return int(resp.json["person_id"])


def _denied(platform: Platform, actor: str) -> list[AuditRecord]:
    with platform.db.session() as db:
        return list(db.scalars(select(AuditRecord).where(
            AuditRecord.action == "admin:denied", AuditRecord.actor == actor,
            AuditRecord.target == "counter.print_agreement")))


@pytest.mark.parametrize("path", PRINTS)
def test_the_clerk_who_handled_the_case_prints_and_it_is_audited(
        clerk: Counter, platform: Platform, path: str) -> None:
    person = _registered(clerk)
    resp = clerk.client.get(path.format(p=person), headers=clerk.headers)
    assert resp.status_code == 200
    [printed] = audit(platform, "admin:counter:print_agreement")
    assert printed.actor == clerk.actor and printed.target == f"person:{person}"
    assert printed.details == {"format": "pdf" if path.endswith(".pdf") else "json",
                               "basis": "own_case"}


@pytest.mark.parametrize(("query", "status", "problem"), [
    ("", 403, "not_own_case"),
    ("?reason=", 403, "not_own_case"),
    ("?reason=%20%20%20", 403, "not_own_case"),
    ("?reason=ab", 422, "validation"),
    ("?reason=" + "长" * 201, 422, "validation"),
    ("?reason=%E8%A1%A5%E6%89%93%00x", 422, "validation"),
])
@pytest.mark.parametrize("path", PRINTS)
def test_another_clerk_needs_a_reprint_reason(
        app: Flask, clerk: Counter, platform: Platform, path: str,
        query: str, status: int, problem: str) -> None:
    person = _registered(clerk)
    other = Counter(app.test_client(), platform, "clerk7")
    resp = other.client.get(path.format(p=person) + query, headers=other.headers)
    assert resp.status_code == status and resp.json["type"] == f"urn:idp:problem:{problem}"
    assert audit(platform, "admin:counter:print_agreement") == []
    assert len(_denied(platform, other.actor)) == (1 if status == 403 else 0)


@pytest.mark.parametrize("path", PRINTS)
def test_a_reprint_with_a_reason_is_audited_with_it(
        app: Flask, clerk: Counter, platform: Platform, path: str) -> None:
    person = _registered(clerk)
    other = Counter(app.test_client(), platform, "clerk7")
    resp = other.client.get(path.format(p=person) + "?reason=申请人异地补打协议",
                            headers=other.headers)
    assert resp.status_code == 200
    [printed] = audit(platform, "admin:counter:print_agreement")
    assert printed.actor == other.actor and printed.details["basis"] == "reprint"
    assert printed.details["reason"] == "申请人异地补打协议"


def test_the_console_asks_for_a_reason_then_prints(app: Flask, make_citizen,
                                                   platform: Platform) -> None:
    person: Any = make_citizen(realname_level=3)
    make_local_staff(platform, "clerk5", [Role.CLERK])
    browser = app.test_client()
    page_sign_in(browser, "clerk5", STAFF_PASSWORD)
    url = f"/admin/counter/persons/{person.person_id}/agreement"
    refused = browser.get(url)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 403 and 'id="reprint-form"' in html
    assert "1101**********0029" not in html
    assert browser.get(url + "?reason=ab").status_code == 422
    resp = browser.get(url + "?reason=申请人异地补打协议")
    assert resp.status_code == 200 and "1101**********0029" in resp.get_data(as_text=True)
    [printed] = audit(platform, "admin:counter:print_agreement")
    assert printed.details == {"format": "view", "basis": "reprint", "reason": "申请人异地补打协议"}
    assert len(_denied(platform, "staff:clerk5")) == 1
