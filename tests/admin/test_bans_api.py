"""Ban and unban through the JSON API (issue 5 item 4; R-51, R-52): effects, refusals, 409s."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from sqlalchemy import func, select

from idp.accounts import bans
from idp.accounts.ban_models import Ban, UnbanRequest
from idp.accounts.models import Person
from idp.accounts.sessions import public_sid
from idp.audit.models import AuditRecord
from idp.oidc import logout
from idp.platform import Platform
from idp.staff.directory import Role
from tests.admin.helpers import api_token, make_local_staff
from tests.oidc.helpers import Pkce, introspect, jwks, register, sign_in, tokens

BCL = "https://rp.example.gov.cn/backchannel"
REASON = "冒用他人身份办理业务"
BASIS = "《网络安全法》第二十四条"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}  # the embedded local staff directory: every role exists


@pytest.fixture
def posted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Back-channel logout POSTs, captured instead of sent."""
    sent: list[tuple[str, str]] = []

    class Ok:
        status_code = 200

    def fake_post(url, data=None, timeout=None, allow_redirects=True):  # type: ignore[no-untyped-def]
        sent.append((url, data["logout_token"]))
        return Ok()

    monkeypatch.setattr(logout.requests, "post", fake_post)
    return sent


class Staff:
    """Bearer tokens for the people of a small department, made on first use."""

    def __init__(self, client: FlaskClient, platform: Platform) -> None:
        self.client, self.platform, self._tokens = client, platform, {}

    def call(self, who: str, method: str, path: str, body: Any = None) -> Any:
        token = self._tokens.get(who)
        if token is None:
            roles, dept = {"m1": ([Role.MANAGER], "市政务服务中心"),
                           "m2": ([Role.MANAGER], "市政务服务中心"),
                           "h1": ([Role.DEPARTMENT_HEAD], "市政务服务中心"),
                           "h2": ([Role.DEPARTMENT_HEAD], "区政务服务中心"),
                           "both": ([Role.MANAGER, Role.DEPARTMENT_HEAD], "市政务服务中心"),
                           "aud": ([Role.AUDITOR], "市审计局"),
                           "clerk": ([Role.CLERK], "市政务服务中心")}[who]
            make_local_staff(self.platform, who, roles, department=dept)
            token = self._tokens[who] = api_token(self.client, self.platform, who)
        return self.client.open(path, method=method, json=body,
                                headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def staff(app: Flask, platform: Platform) -> Staff:
    return Staff(app.test_client(), platform)


def _ban(staff: Staff, person: int, who: str = "m1", **body: Any) -> Any:
    return staff.call(who, "POST", f"/api/v1/admin/accounts/{person}/ban",
                      {"reason": REASON, "legal_basis": BASIS, **body})


def _actions(platform: Platform, prefix: str) -> list[AuditRecord]:
    with platform.db.session() as session:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.action.startswith(prefix))
                               .order_by(AuditRecord.seq)).all()
        session.expunge_all()
        return list(rows)


def _status(platform: Platform, person_id: int) -> tuple[str, int]:
    with platform.db.session() as session:
        person = session.get(Person, person_id)
        return person.status, person.security_epoch


def _sms(platform: Platform, phone: str) -> list[str]:
    return [m.template for m in platform.sms.messages(phone)]  # type: ignore[attr-defined]


def test_ban_ends_sessions_tokens_and_notifies(client, platform, citizen, staff, posted):
    rp = register(platform, backchannel_logout_uri=BCL)
    sso = sign_in(client, platform, citizen)
    granted = tokens(client, rp, Pkce(), scope="openid profile offline_access")
    _, epoch = _status(platform, citizen.person_id)

    resp = _ban(staff, citizen.person_id)

    assert resp.status_code == 201, resp.json
    body = resp.json
    assert body["account"]["status"] == "banned" and body["sms_sent"] is True
    assert body["backchannel_failed"] == []
    assert body["ban"]["reason"] == REASON and body["ban"]["legal_basis"] == BASIS
    assert body["ban"]["banned_by"] == "staff:m1"
    assert body["ban"]["department"] == "市政务服务中心"
    assert citizen.id_number not in resp.get_data(as_text=True)  # masked only
    status, epoch_after = _status(platform, citizen.person_id)
    assert status == "banned" and epoch_after > epoch  # everything issued before is refused
    # Every SSO session ended, the refresh token revoked, access tokens refused.
    assert platform.sessions.load(sso.sid) is None
    assert introspect(client, rp, granted["access_token"])["active"] is False
    refreshed = client.post("/token", headers=rp.basic(), data={
        "grant_type": "refresh_token", "refresh_token": granted["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    # The department system got a signed logout token for that session.
    assert [url for url, _ in posted] == [BCL]
    claims = jwt.decode(posted[0][1], jwks(client)).claims
    assert claims["sid"] == public_sid(platform.settings.secret_key, sso.sid)
    assert claims["aud"] == rp.client_id
    # The person was told, with the reason and the managing department.
    text = platform.sms.messages(citizen.phone)[0].text  # type: ignore[attr-defined]
    assert "account_banned" in _sms(platform, citizen.phone)
    assert REASON in text and "市政务服务中心" in text
    record = _actions(platform, "admin:account:ban")[-1]
    assert record.actor == "staff:m1" and record.target == f"person:{citizen.person_id}"
    assert record.details["legal_basis"] == BASIS
    assert _actions(platform, "oidc:logout:person")
    assert _actions(platform, "delegation:suspended_by_ban")


def test_lookup_by_document_or_phone_is_masked_and_audited(citizen, staff):
    for identifier in (citizen.id_number, citizen.phone, f" {citizen.id_number.lower()} "):
        resp = staff.call("clerk", "POST", "/api/v1/admin/accounts/lookup",
                          {"identifier": identifier})
        assert resp.status_code == 200, resp.json
        assert resp.json["person_id"] == citizen.person_id
        assert resp.json["id_number"] != citizen.id_number
        assert resp.json["id_number"].startswith(citizen.id_number[:3])
        assert citizen.phone not in resp.get_data(as_text=True)
    missing = staff.call("clerk", "POST", "/api/v1/admin/accounts/lookup",
                         {"identifier": "110101199003070011"})
    assert missing.status_code == 404 and missing.json["type"].endswith(":not_found")
    looked = _actions(staff.platform, "admin:account:lookup")
    assert [r.outcome for r in looked] == ["success"] * 3 + ["failure"]
    assert all(citizen.id_number not in str(r.details) for r in looked)


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"reason": "", "legal_basis": BASIS}, 422, "reason"),
    ({"reason": "太短", "legal_basis": BASIS}, 422, "reason"),
    ({"reason": "    ", "legal_basis": BASIS}, 422, "reason"),
    ({"reason": "原因\x00有控制字符", "legal_basis": BASIS}, 422, "reason"),
    ({"reason": REASON, "legal_basis": "法"}, 422, "legal_basis"),
    ({"reason": "很" * 201, "legal_basis": BASIS}, 422, "reason"),
    ({"reason": REASON}, 422, "legal_basis"),
    ({"reason": 42, "legal_basis": BASIS}, 422, "reason"),
])
def test_bad_ban_input_changes_nothing(platform, citizen, staff, body, status, field):
    resp = staff.call("m1", "POST", f"/api/v1/admin/accounts/{citizen.person_id}/ban", body)
    assert resp.status_code == status, resp.json
    assert resp.json["errors"][0]["field"] == field
    assert _status(platform, citizen.person_id) == ("active", 0)
    assert _actions(platform, "admin:account:ban") == []
    assert _sms(platform, citizen.phone) == []


def test_ban_conflicts_and_unknown_accounts(platform, citizen, staff):
    assert _ban(staff, citizen.person_id).status_code == 201
    again = _ban(staff, citizen.person_id, who="m2")
    assert again.status_code == 409 and again.json["type"] == "urn:idp:problem:already_banned"
    assert _ban(staff, 999999).status_code == 404
    with platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Ban)) == 1


def _request(staff: Staff, person: int, who: str = "m1") -> Any:
    return staff.call(who, "POST", f"/api/v1/admin/accounts/{person}/unban-request",
                      {"reason": "核实为本人,申请恢复"})


def _decide(staff: Staff, person: int, who: str, verb: str, **body: Any) -> Any:
    return staff.call(who, "POST", f"/api/v1/admin/accounts/{person}/unban-request/{verb}",
                      body)


def test_unban_needs_a_different_head_of_the_managing_department(platform, citizen, staff):
    person = citizen.person_id
    assert _request(staff, person).status_code == 409  # not banned yet
    assert _ban(staff, person, who="both").status_code == 201
    asked = _request(staff, person, who="both")
    assert asked.status_code == 201 and asked.json["status"] == "pending"
    assert _request(staff, person, who="m2").json["type"].endswith(":request_pending")

    own = _decide(staff, person, "both", "approve")
    assert own.status_code == 403 and own.json["type"] == "urn:idp:problem:own_request"
    elsewhere = _decide(staff, person, "h2", "approve")
    assert elsewhere.status_code == 403
    assert elsewhere.json["type"] == "urn:idp:problem:wrong_department"
    denied = [(r.actor, r.details["reason"]) for r in _actions(platform, "admin:denied")]
    assert denied == [("staff:both", "own_request"), ("staff:h2", "wrong_department")]
    assert _status(platform, person)[0] == "banned"
    assert _actions(platform, "admin:unban:approve") == []

    done = _decide(staff, person, "h1", "approve", request_id=asked.json["id"])
    assert done.status_code == 200, done.json
    assert done.json["request"]["status"] == "approved"
    assert done.json["request"]["decided_by"] == "staff:h1"
    assert done.json["account"]["status"] == "active" and done.json["sms_sent"] is True
    assert done.json["account"]["bans"][0]["lifted_at"] is not None
    assert _sms(platform, citizen.phone)[0] == "account_unbanned"
    assert _actions(platform, "delegation:restored_by_unban")
    repeat = _decide(staff, person, "h1", "approve", request_id=asked.json["id"])
    assert repeat.status_code == 409 and repeat.json["type"].endswith(":already_decided")
    assert _decide(staff, person, "h1", "approve").json["type"].endswith(
        ":no_pending_request")


def test_refusal_needs_a_reason_and_keeps_the_ban(platform, citizen, staff):
    person = citizen.person_id
    _ban(staff, person)
    first = _request(staff, person).json["id"]
    bare = _decide(staff, person, "h1", "refuse")
    assert bare.status_code == 422 and bare.json["errors"][0]["field"] == "reason"
    short = _decide(staff, person, "h1", "refuse", reason="不行")
    assert short.status_code == 422
    refused = _decide(staff, person, "h1", "refuse", reason="材料不全,暂不解封")
    assert refused.status_code == 200 and refused.json["request"]["status"] == "refused"
    assert refused.json["request"]["decision_reason"] == "材料不全,暂不解封"
    assert refused.json["sms_sent"] is False
    assert _status(platform, person)[0] == "banned"
    assert _sms(platform, citizen.phone) == ["account_banned"]
    late = _decide(staff, person, "h1", "approve", request_id=first)
    assert late.status_code == 409 and late.json["type"].endswith(":already_decided")
    # After a refusal a new request may be made, and it is the one approved.
    second = _request(staff, person, who="m2").json["id"]
    assert second != first
    assert _decide(staff, person, "h1", "approve").json["request"]["id"] == second
    history = staff.call("aud", "GET", f"/api/v1/admin/accounts/{person}").json
    assert [r["status"] for r in history["unban_requests"]] == ["approved", "refused"]
    actions = [r.action for r in _actions(platform, "admin:unban")]
    assert actions == ["admin:unban:request", "admin:unban:refuse", "admin:unban:request",
                       "admin:unban:approve"]


def test_pending_list_shows_only_the_heads_department(platform, make_citizen, staff):
    one = make_citizen().person_id
    two = make_citizen(id_number="11010519491231002X", phone="13900139000").person_id
    for person in (one, two):
        _ban(staff, person)
        _request(staff, person)
    mine = staff.call("h1", "GET", "/api/v1/admin/unban-requests")
    assert [r["person_id"] for r in mine.json["requests"]] == [one, two]
    assert staff.call("h2", "GET", "/api/v1/admin/unban-requests").json["requests"] == []


def test_decision_on_a_request_of_another_person_is_not_found(make_citizen, staff):
    one = make_citizen().person_id
    two = make_citizen(id_number="11010519491231002X", phone="13900139000").person_id
    _ban(staff, one)
    _ban(staff, two)
    other = _request(staff, two).json["id"]
    _request(staff, one)
    resp = _decide(staff, one, "h1", "approve", request_id=other)
    assert resp.status_code == 404


def test_failure_inside_the_ban_leaves_no_trace(platform, client, citizen, monkeypatch):
    """One transaction: nothing is banned, and the sessions survive (ended last)."""
    sso = sign_in(client, platform, citizen)
    from tests.admin.bans_helpers import staff_member

    by = staff_member(platform, "m9")

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("delegation store down")

    monkeypatch.setattr(bans, "on_person_banned", boom)
    with pytest.raises(RuntimeError), platform.db.session() as session:
        bans.ban(platform, session, citizen.person_id, by=by, reason=REASON,
                 legal_basis=BASIS, address="198.51.100.7")
    assert _status(platform, citizen.person_id) == ("active", 0)
    assert platform.sessions.load(sso.sid) is not None
    with platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Ban)) == 0
    assert _actions(platform, "admin:account:ban") == []


def test_status_change_hook_is_called_for_federation(platform, citizen, monkeypatch):
    from tests.admin.bans_helpers import staff_member

    calls: list[tuple[int, str, str]] = []
    monkeypatch.setattr(bans, "account_status_changed",
                        lambda session, person, status, *, actor, address:
                        calls.append((person.id, status.value, actor)))
    manager = staff_member(platform, "m1")
    head = staff_member(platform, "h1", roles=("department_head",))
    with platform.db.session() as session:
        bans.ban(platform, session, citizen.person_id, by=manager, reason=REASON,
                 legal_basis=BASIS, address="-")
    with platform.db.session() as session:
        bans.request_unban(session, citizen.person_id, by=manager, reason="申请解封恢复",
                           address="-")
    with platform.db.session() as session:
        bans.decide_unban(platform, session, citizen.person_id, by=head, approve=True,
                          reason="", address="-")
    assert calls == [(citizen.person_id, "banned", "staff:m1"),
                     (citizen.person_id, "active", "staff:h1")]
    with platform.db.session() as session:
        assert session.scalars(select(UnbanRequest.status)).all() == ["approved"]


def test_operations_are_documented(client):
    paths = client.get("/api/openapi.json").json["paths"]
    base = "/api/v1/admin/accounts/{person_id}"
    assert "post" in paths["/api/v1/admin/accounts/lookup"]
    assert "get" in paths[base]
    for suffix in ("/ban", "/unban-request", "/unban-request/approve",
                   "/unban-request/refuse"):
        assert "post" in paths[base + suffix], suffix
    assert "get" in paths["/api/v1/admin/unban-requests"]
    assert paths[base + "/ban"]["post"]["responses"]["201"]


def test_the_asker_is_refused_before_the_note_is_checked(platform, citizen, staff):
    _ban(staff, citizen.person_id, who="both")
    _request(staff, citizen.person_id, who="both")
    resp = _decide(staff, citizen.person_id, "both", "refuse")  # no reason given either
    assert resp.status_code == 403 and resp.json["type"].endswith(":own_request")
    assert [r.details["action"] for r in _actions(platform, "admin:denied")] == [
        "account.refuse_unban"]


def test_manager_without_a_department_cannot_ban(app, platform, citizen):
    make_local_staff(platform, "nodept", [Role.MANAGER], department="")
    client = app.test_client()
    token = api_token(client, platform, "nodept")
    resp = client.post(f"/api/v1/admin/accounts/{citizen.person_id}/ban",
                       json={"reason": REASON, "legal_basis": BASIS},
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and resp.json["type"].endswith(":no_department")
    assert _status(platform, citizen.person_id) == ("active", 0)
    assert _actions(platform, "admin:denied")[0].details["reason"] == "no_department"
