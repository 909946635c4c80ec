"""The self-service JSON API: recovery, logins, apps, phone change (issue 3 item 6)."""

from __future__ import annotations

from tests.oidc.helpers import Pkce, register, sign_in, tokens
from tests.selfservice.conftest import BCL, NEW_PHONE, codes, templates, wrong

OPS = {
    ("/api/v1/password-recovery", "post"), ("/api/v1/password-recovery/confirm", "post"),
    ("/api/v1/me/logins", "get"), ("/api/v1/me/apps", "get"),
    ("/api/v1/me/apps/{client_id}", "delete"), ("/api/v1/me/phone", "post"),
    ("/api/v1/me/phone/confirm-old", "post"), ("/api/v1/me/phone/confirm-new", "post"),
    ("/api/v1/me/phone/resend", "post"),
}


def test_operations_in_openapi(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {(p, m) for p, m in OPS if m in paths.get(p, {})} == OPS
    assert "security" not in paths["/api/v1/password-recovery"]["post"]
    assert paths["/api/v1/me/apps"]["get"]["security"] == [{"bearer": []}]


def test_recovery_over_the_api(client, platform, citizen, posted):
    rp = register(platform, backchannel_logout_uri=BCL)
    s = sign_in(client, platform, citizen)
    got = tokens(client, rp, Pkce(), scope="openid offline_access")
    started = client.post("/api/v1/password-recovery", json={"identifier": citizen.phone})
    assert started.status_code == 202 and started.headers["Cache-Control"] == "no-store"
    ticket = started.get_json()["ticket"]
    code = codes(platform, citizen.phone)[0]
    bad = client.post("/api/v1/password-recovery/confirm",
                      json={"ticket": ticket, "code": wrong(code), "new_password": "N3w-Passw0rd!"})
    assert bad.status_code == 400 and bad.get_json()["remaining"] == 4
    assert bad.mimetype == "application/problem+json"
    done = client.post("/api/v1/password-recovery/confirm",
                       json={"ticket": ticket, "code": code, "new_password": "N3w-Passw0rd!"})
    assert done.status_code == 204
    assert platform.sessions.load(s.sid) is None and [u for u, _ in posted] == [BCL]
    assert client.post("/token", headers=rp.basic(), data={
        "grant_type": "refresh_token", "refresh_token": got["refresh_token"]}).status_code == 400
    replay = client.post("/api/v1/password-recovery/confirm",
                         json={"ticket": ticket, "code": code, "new_password": "An0ther-Pass!"})
    assert replay.status_code == 400 and replay.get_json()["type"].endswith("code_expired")


def test_recovery_api_unknown_account_looks_the_same(client, platform, citizen):
    known = client.post("/api/v1/password-recovery", json={"identifier": citizen.id_number})
    unknown = client.post("/api/v1/password-recovery", json={"identifier": "11010519491231002X"})
    assert known.status_code == unknown.status_code == 202
    assert set(known.get_json()) == set(unknown.get_json()) == {"ticket", "expires_in"}
    answers = []
    for got in (known, unknown):
        r = client.post("/api/v1/password-recovery/confirm", json={
            "ticket": got.get_json()["ticket"], "code": "000000", "new_password": "N3w-Passw0rd!"})
        body = r.get_json()
        answers.append((r.status_code, body["type"], body.get("remaining")))
    if codes(platform, citizen.phone)[0] == "000000":  # one chance in a million
        return
    assert answers[0] == answers[1] == (400, "urn:idp:problem:code_wrong", 4)


def test_recovery_api_locks_after_wrong_codes(client, platform, citizen):
    ticket = client.post("/api/v1/password-recovery",
                         json={"identifier": citizen.id_number}).get_json()["ticket"]
    good = codes(platform, citizen.phone)[0]
    last = None
    for _ in range(5):
        last = client.post("/api/v1/password-recovery/confirm", json={
            "ticket": ticket, "code": wrong(good), "new_password": "N3w-Passw0rd!"})
    assert last.status_code == 429 and int(last.headers["Retry-After"]) > 0
    again = client.post("/api/v1/password-recovery", json={"identifier": citizen.id_number})
    assert again.status_code == 429


def test_my_logins_and_apps(client, platform, citizen, app_user, posted):
    rp = register(platform, name="社保服务", backchannel_logout_uri=BCL)
    got = tokens(client, rp, Pkce(), scope="openid offline_access")
    logins = client.get("/api/v1/me/logins", headers=app_user.headers)
    assert logins.status_code == 200 and logins.headers["Cache-Control"] == "no-store"
    apps = client.get("/api/v1/me/apps", headers=app_user.headers).get_json()["items"]
    by_id = {a["client_id"]: a for a in apps}
    # The app itself holds no consent (first party) nor offline grant: not listed.
    assert set(by_id) == {rp.client_id}
    assert {"scope": "offline_access", "label": "在您离线时继续访问上述信息"} in \
        by_id[rp.client_id]["scopes"]
    gone = client.delete(f"/api/v1/me/apps/{rp.client_id}", headers=app_user.headers)
    assert gone.status_code == 204 and [u for u, _ in posted] == [BCL]
    assert client.post("/token", headers=rp.basic(), data={
        "grant_type": "refresh_token", "refresh_token": got["refresh_token"]}).status_code == 400
    again = client.delete(f"/api/v1/me/apps/{rp.client_id}", headers=app_user.headers)
    assert again.status_code == 404


def test_logins_lists_sign_ins_of_the_person(client, platform, citizen, app_user):
    from tests.selfservice.conftest import page_post

    page_post(client, "/login", {"identifier": citizen.id_number, "password": "Bad-Passw0rd1"})
    items = client.get("/api/v1/me/logins", headers=app_user.headers).get_json()["items"]
    assert items and items[0]["event"] == "account:login:failure"
    assert items[0]["method"] == "pwd" and items[0]["address"] == "127.0.0.*"
    one = client.get("/api/v1/me/logins?limit=1", headers=app_user.headers).get_json()
    assert len(one["items"]) == 1 and one["next_before"] == one["items"][0]["id"]


def test_phone_change_over_the_api(client, platform, citizen, app_user):
    h = app_user.headers
    early = client.post("/api/v1/me/phone/confirm-new", json={"code": "123456"}, headers=h)
    assert early.status_code == 409 and early.get_json()["type"].endswith("step_out_of_order")
    started = client.post("/api/v1/me/phone", json={"new_phone": NEW_PHONE}, headers=h)
    assert started.status_code == 200
    assert started.get_json()["step"] == "confirm_old"
    assert started.get_json()["code_sent_to"] == "138****8000"
    skipped = client.post("/api/v1/me/phone/confirm-new", json={"code": "123456"}, headers=h)
    assert skipped.status_code == 409
    bad = client.post("/api/v1/me/phone/confirm-old",
                      json={"code": wrong(codes(platform, citizen.phone)[0])}, headers=h)
    assert bad.status_code == 400 and bad.get_json()["remaining"] == 4
    old = client.post("/api/v1/me/phone/confirm-old",
                      json={"code": codes(platform, citizen.phone)[0]}, headers=h)
    assert old.get_json() == {"step": "confirm_new", "code_sent_to": "139****9000",
                              "expires_in": platform.settings.sms_code_ttl}
    done = client.post("/api/v1/me/phone/confirm-new",
                       json={"code": codes(platform, NEW_PHONE)[0]}, headers=h)
    assert done.status_code == 200 and done.get_json() == {"step": "done", "phone": "139****9000"}
    assert templates(platform, citizen.phone)[0] == "phone_changed"


def test_phone_api_new_number_taken(client, platform, citizen, app_user, make_citizen):
    make_citizen(id_number="11010519491231002X", name="李四", phone=NEW_PHONE)
    resp = client.post("/api/v1/me/phone", json={"new_phone": NEW_PHONE},
                       headers=app_user.headers)
    assert resp.status_code == 409 and resp.get_json()["type"].endswith("phone_taken")
    assert "李" not in resp.get_data(as_text=True)


def test_me_operations_refuse_other_clients(client, platform, citizen):
    rp = register(platform, name="某部门系统")
    sign_in(client, platform, citizen)
    token = tokens(client, rp, Pkce())["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    for method, path in (("get", "/api/v1/me/logins"), ("get", "/api/v1/me/apps"),
                         ("delete", f"/api/v1/me/apps/{rp.client_id}")):
        resp = getattr(client, method)(path, headers=h)
        assert resp.status_code == 403, path
        assert resp.get_json()["type"].endswith("client_not_allowed")
    assert client.post("/api/v1/me/phone", json={"new_phone": NEW_PHONE},
                       headers=h).status_code == 403
    assert client.get("/api/v1/me/apps").status_code == 401
