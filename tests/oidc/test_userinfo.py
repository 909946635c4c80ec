"""UserInfo (OIDC Core §5.3) and the claims of each scope (issue 2 item 6)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.accounts.models import AccountStatus, Person
from idp.accounts.service import Accounts
from idp.audit.models import AuditRecord
from tests.oidc.helpers import Pkce, register, sign_in, tokens


@pytest.fixture
def access_token(client, platform, citizen):
    rp = register(platform, scope="openid profile phone realname")
    sign_in(client, platform, citizen)
    return tokens(client, rp, Pkce(), scope="openid profile phone")["access_token"]


def test_userinfo_get_with_bearer_header(client, access_token, citizen):
    resp = client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    assert resp.status_code == 200
    assert resp.get_json() == {"sub": citizen.sub, "name": "张*",
                               "phone_number": "+8613800138000", "phone_number_verified": True}


def test_userinfo_post_with_bearer_header(client, access_token, citizen):
    resp = client.post("/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    assert resp.status_code == 200 and resp.get_json()["sub"] == citizen.sub


def test_userinfo_post_with_token_in_body(client, access_token, citizen):
    resp = client.post("/userinfo", data={"access_token": access_token})
    assert resp.status_code == 200 and resp.get_json()["sub"] == citizen.sub


def test_profile_only_gives_masked_name(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen)
    at = tokens(client, rp, Pkce(), scope="openid profile")["access_token"]
    assert client.get("/userinfo", headers={"Authorization": f"Bearer {at}"}).get_json() == {
        "sub": citizen.sub, "name": "张*"}


def test_realname_scope(client, platform, citizen):
    rp = register(platform)
    sign_in(client, platform, citizen)
    at = tokens(client, rp, Pkce(), scope="openid realname")["access_token"]
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {at}"}).get_json()
    assert info == {"sub": citizen.sub, "name": "张三", "id_type": "resident_id",
                    "id_number_masked": "1101**********0029", "realname_level": 1}


def test_idcard_scope_only_for_allowed_clients_and_audited(client, platform, citizen):
    sign_in(client, platform, citizen)
    allowed = register(platform, scope="openid idcard", allow_idcard=True)
    at = tokens(client, allowed, Pkce(), scope="openid idcard")["access_token"]
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {at}"}).get_json()
    assert info["id_number"] == citizen.id_number
    with platform.db.session() as session:
        actions = session.scalars(select(AuditRecord.action)).all()
    assert "oidc:userinfo:idcard" in actions
    refused = register(platform, scope="openid profile")
    body = tokens(client, refused, Pkce(), scope="openid idcard")
    assert body["scope"] == "openid"


def test_pairwise_subject_is_stable_and_differs_from_public(client, platform, citizen):
    sign_in(client, platform, citizen)
    rp = register(platform, subject_type="pairwise")
    first = tokens(client, rp, Pkce())["access_token"]
    second = tokens(client, rp, Pkce())["access_token"]
    sub1 = client.get("/userinfo", headers={"Authorization": f"Bearer {first}"}).get_json()["sub"]
    sub2 = client.get("/userinfo", headers={"Authorization": f"Bearer {second}"}).get_json()["sub"]
    assert sub1 == sub2 != citizen.sub


@pytest.mark.parametrize("headers,data,status,error", [
    ({}, None, 401, "invalid_token"),
    ({"Authorization": "Bearer not-a-token"}, None, 401, "invalid_token"),
    ({"Authorization": "Basic abc"}, None, 400, "invalid_request"),
    ({"Authorization": "Bearer "}, None, 400, "invalid_request"),
    ({"Authorization": "Bearer a.b.c"}, {"access_token": "a.b.c"}, 400, "invalid_request"),
    ({"Authorization": "Bearer " + "x" * 5000}, None, 401, "invalid_token"),
])
def test_userinfo_bearer_errors(client, headers, data, status, error):
    resp = client.post("/userinfo", headers=headers, data=data)
    assert resp.status_code == status and resp.get_json()["error"] == error
    assert resp.headers["WWW-Authenticate"].startswith(f'Bearer error="{error}"')


def test_userinfo_refuses_token_after_ban(client, platform, citizen, access_token):
    with platform.db.session() as session:
        Accounts(session, platform.protector, platform.hasher).set_status(
            session.get(Person, citizen.person_id), AccountStatus.BANNED)
    resp = client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    assert resp.status_code == 401


def test_userinfo_refuses_client_credentials_token(client, platform):
    rp = register(platform, grant_types=["client_credentials"], redirect_uris=[])
    at = client.post("/token", headers=rp.basic(),
                     data={"grant_type": "client_credentials"}).get_json()["access_token"]
    resp = client.get("/userinfo", headers={"Authorization": f"Bearer {at}"})
    assert resp.status_code == 403 and resp.get_json()["error"] == "insufficient_scope"
