"""Password recovery by SMS to the bound phone (R-40): pages and service behaviour."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from idp.accounts.models import Person
from idp.audit.models import AuditRecord
from tests.oidc.helpers import Pkce, register, sign_in, tokens
from tests.selfservice.conftest import BCL, codes, page_post, templates, ticket_of, wrong
from tests.web.conftest import login

NEW_PASSWORD = "N3w-Passw0rd!"


def start(client, identifier: str):  # type: ignore[no-untyped-def]
    return page_post(client, "/password/forgot", {"identifier": identifier})


def confirm(client, ticket: str, code: str, password: str = NEW_PASSWORD,  # type: ignore[no-untyped-def]
            again: str | None = None):
    return page_post(client, "/password/forgot/confirm", {
        "ticket": ticket, "code": code, "new_password": password,
        "confirm_password": password if again is None else again})


def test_forgot_link_on_login_page(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/password/forgot"' in html
    assert client.get("/password/forgot").status_code == 200


@pytest.mark.parametrize("by", ["id_number", "phone"])
def test_recovery_happy_path_ends_everything(client, platform, citizen, posted, by):
    rp = register(platform, backchannel_logout_uri=BCL)
    s = sign_in(client, platform, citizen)
    got = tokens(client, rp, Pkce(), scope="openid profile offline_access")
    with platform.db.session() as db:
        db.execute(update(Person).where(Person.id == citizen.person_id)
                   .values(must_change_password=True))

    resp = start(client, getattr(citizen, by))
    assert resp.status_code == 200
    assert templates(platform, citizen.phone) == ["recovery_code"]
    ticket = ticket_of(resp.get_data(as_text=True))
    done = confirm(client, ticket, codes(platform, citizen.phone)[0])
    assert done.status_code == 200 and "密码已重置" in done.get_data(as_text=True)

    assert platform.sessions.load(s.sid) is None  # SSO session ended
    refreshed = client.post("/token", headers=rp.basic(), data={
        "grant_type": "refresh_token", "refresh_token": got["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.get_json()["error"] == "invalid_grant"
    assert client.post("/introspect", data={"token": got["access_token"]},
                       headers=rp.basic()).get_json()["active"] is False
    assert [url for url, _ in posted] == [BCL]  # back-channel logout to the client
    assert templates(platform, citizen.phone)[0] == "password_reset"  # the owner is told
    with platform.db.session() as db:
        person = db.get(Person, citizen.person_id)
        assert person.must_change_password is False
        actions = [r.action for r in db.scalars(select(AuditRecord).where(
            AuditRecord.target == citizen.sub, AuditRecord.outcome == "success"))]
    assert "account:password:reset" in actions
    fresh = login(client, citizen.id_number, NEW_PASSWORD)
    assert fresh.status_code == 302 and "/password/change" not in fresh.location
    assert login(client, citizen.id_number, citizen.password).status_code == 401


def _scrub(html: str) -> str:
    import re

    return re.sub(r'(name="(?:ticket|csrf_token)" value=")[^"]+', r"\1", html)


def test_unknown_account_is_indistinguishable(client, platform, citizen):
    known = start(client, citizen.id_number)
    unknown_id = start(client, "11010519491231002X")
    unknown_phone = start(client, "13700137000")
    assert known.status_code == unknown_id.status_code == unknown_phone.status_code == 200
    assert _scrub(known.get_data(as_text=True)) == _scrub(unknown_id.get_data(as_text=True))
    assert _scrub(unknown_phone.get_data(as_text=True)) == _scrub(known.get_data(as_text=True))
    assert platform.sms.messages("13700137000") == []  # nothing sent for no account
    assert "138****8000" not in known.get_data(as_text=True)  # the bound phone is not shown
    # Wrong codes get the same answers, attempt by attempt.
    t_known = ticket_of(known.get_data(as_text=True))
    t_unknown = ticket_of(unknown_id.get_data(as_text=True))
    for _ in range(3):
        a = confirm(client, t_known, wrong(codes(platform, citizen.phone)[0]))
        b = confirm(client, t_unknown, "123456")
        assert (a.status_code, _scrub(a.get_data(as_text=True))) == (
            b.status_code, _scrub(b.get_data(as_text=True)).replace(t_unknown, t_known))


def test_wrong_codes_lock_recovery(client, platform, citizen):
    resp = start(client, citizen.id_number)
    ticket = ticket_of(resp.get_data(as_text=True))
    good = codes(platform, citizen.phone)[0]
    statuses = [confirm(client, ticket, wrong(good)).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    assert confirm(client, ticket, good).status_code in (401, 429)  # the code is dead
    again = start(client, citizen.id_number)
    assert again.status_code == 429 and "锁定" in again.get_data(as_text=True)
    assert len(codes(platform, citizen.phone)) == 1  # no new code while locked
    assert login(client, citizen.id_number, citizen.password).status_code == 302  # not reset
    with platform.db.session() as db:
        assert db.scalars(select(AuditRecord).where(
            AuditRecord.action == "account:lockout", AuditRecord.target == citizen.sub)).first()


def test_recovery_sends_limited_per_document(client, platform, citizen, monkeypatch):
    from idp.accounts import recovery

    monkeypatch.setattr(recovery, "SENDS_PER_DOCUMENT_DAILY", 2)
    # Different addresses and no per-phone interval in the way: only the document limit.
    monkeypatch.setattr(platform.limiter, "test", _only_document_limit(platform.limiter.test))
    answers = [start(client, citizen.id_number).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    assert len(codes(platform, citizen.phone)) == 2


def _only_document_limit(real):  # type: ignore[no-untyped-def]
    def test(limit, subject):  # type: ignore[no-untyped-def]
        return real(limit, subject) if limit.name == "sms-recovery-document" else True

    return test


def test_weak_password_does_not_spend_an_attempt(client, platform, citizen):
    ticket = ticket_of(start(client, citizen.id_number).get_data(as_text=True))
    good = codes(platform, citizen.phone)[0]
    assert confirm(client, ticket, good, "short").status_code == 400
    assert confirm(client, ticket, good, NEW_PASSWORD, "Other-Passw0rd!").status_code == 400
    assert confirm(client, ticket, good).status_code == 200


def test_banned_account_told_only_after_the_code(client, platform, citizen):
    from idp.accounts.models import AccountStatus

    with platform.db.session() as db:
        db.execute(update(Person).where(Person.id == citizen.person_id)
                   .values(status=AccountStatus.BANNED.value))
    resp = start(client, citizen.id_number)
    assert resp.status_code == 200
    ticket = ticket_of(resp.get_data(as_text=True))
    done = confirm(client, ticket, codes(platform, citizen.phone)[0])
    assert done.status_code == 403
    assert login(client, citizen.id_number, NEW_PASSWORD).status_code != 302
