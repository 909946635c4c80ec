"""Changing the bound phone: the OLD number first, then the NEW one (R-41)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.accounts.service import Accounts
from idp.audit.models import AuditRecord
from tests.oidc.helpers import sign_in
from tests.selfservice.conftest import NEW_PHONE, codes, page_post, templates, wrong


def step(client, action: str, **data: str):  # type: ignore[no-untyped-def]
    return page_post(client, "/account/phone", {"action": action, **data})


def bound_phone(platform, person_id: int) -> str | None:  # type: ignore[no-untyped-def]
    with platform.db.session() as db:
        accounts = Accounts(db, platform.protector, platform.hasher)
        return accounts.phone(accounts.get(person_id))


@pytest.fixture
def me(client, platform, citizen):  # type: ignore[no-untyped-def]
    sign_in(client, platform, citizen)
    return citizen


def test_phone_change_happy_path(client, platform, me):
    page = client.get("/account/phone")
    # The note for someone who lost the old number: the counter route.
    assert page.status_code == 200 and "政务服务大厅" in page.get_data(as_text=True)
    started = step(client, "start", new_phone=NEW_PHONE)
    assert started.status_code == 200 and "138****8000" in started.get_data(as_text=True)
    assert templates(platform, me.phone) == ["phone_old_code"]
    assert platform.sms.messages(NEW_PHONE) == []  # nothing to the new number yet
    proven = step(client, "confirm_old", code=codes(platform, me.phone)[0])
    assert proven.status_code == 200 and "139****9000" in proven.get_data(as_text=True)
    assert templates(platform, NEW_PHONE) == ["phone_new_code"]
    done = step(client, "confirm_new", code=codes(platform, NEW_PHONE)[0])
    assert done.status_code == 302 and done.location.endswith("/account?changed=phone")
    assert bound_phone(platform, me.person_id) == NEW_PHONE
    notice = platform.sms.messages(me.phone)[0]
    assert notice.template == "phone_changed" and "139****9000" in notice.text
    with platform.db.session() as db:
        rows = db.scalars(select(AuditRecord).where(
            AuditRecord.action == "account:phone:change", AuditRecord.outcome == "success")).all()
        assert len(rows) == 1
        assert rows[0].details == {"phone": "138****8000", "new_phone": "139****9000"}
        assert rows[0].target == me.sub
    home = client.get("/account?changed=phone").get_data(as_text=True)
    assert "139****9000" in home


def test_wrong_old_code_counts_then_locks(client, platform, me):
    step(client, "start", new_phone=NEW_PHONE)
    good = codes(platform, me.phone)[0]
    first = step(client, "confirm_old", code=wrong(good))
    assert first.status_code == 401 and "4" in first.get_data(as_text=True)
    statuses = [step(client, "confirm_old", code=wrong(good)).status_code for _ in range(4)]
    assert statuses[-1] == 429
    assert step(client, "confirm_old", code=good).status_code == 409  # flow cancelled on lock
    assert step(client, "start", new_phone=NEW_PHONE).status_code == 429  # locked
    assert platform.sms.messages(NEW_PHONE) == []
    assert bound_phone(platform, me.person_id) == me.phone


def test_new_number_taken_is_refused_without_saying_whose(client, platform, me, make_citizen):
    make_citizen(id_number="11010519491231002X", name="李四", phone=NEW_PHONE)
    resp = step(client, "start", new_phone=NEW_PHONE)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "已绑定其他账号" in html
    assert "李" not in html and "1101" not in html and "002X" not in html
    assert platform.sms.messages(me.phone) == []  # no code for a change that cannot happen


def test_skipping_the_old_step_is_refused(client, platform, me):
    assert step(client, "confirm_new", code="123456").status_code == 409
    step(client, "start", new_phone=NEW_PHONE)
    skipped = step(client, "confirm_new", code="123456")
    assert skipped.status_code == 409 and "请先验证原手机号" in skipped.get_data(as_text=True)
    assert step(client, "resend_new").status_code == 409
    assert platform.sms.messages(NEW_PHONE) == []
    assert bound_phone(platform, me.person_id) == me.phone


def test_cancel_forgets_the_flow(client, platform, me):
    step(client, "start", new_phone=NEW_PHONE)
    assert step(client, "cancel").status_code == 302
    assert step(client, "confirm_old", code=codes(platform, me.phone)[0]).status_code == 409


def test_phone_page_needs_a_session(client):
    assert client.get("/account/phone").status_code == 302
    resp = step(client, "start", new_phone=NEW_PHONE)
    assert resp.status_code == 302 and "/login" in resp.location
