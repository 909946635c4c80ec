"""Token exchange (RFC 8693; issue 4 item 6): a department system exchanges a person's token
for one to call another department's API, with ``act``, a narrowed scope and the target's
pairwise ``sub``; policy decides which audiences, and every refusal is an RFC error. The
exchanged token is opaque to the requester: the target reads it by introspection."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import select, update

from idp.accounts.models import AccountStatus, Person
from idp.audit.models import AuditRecord
from idp.oidc import clients as client_service
from idp.oidc.clients import TOKEN_EXCHANGE
from idp.oidc.exchange import ACCESS_TOKEN_TYPE
from idp.oidc.models import Client
from idp.oidc.reference import is_handle
from idp.oidc.subject import subject_for
from tests.oidc.helpers import (
    Pkce,
    Rp,
    exchange,
    introspect,
    jwks,
    register,
    sign_in,
    tokens,
)

TARGET_HOST = "zj.example.gov.cn"


@pytest.fixture
def target(platform) -> Rp:
    """The housing department's API: pairwise subjects, a narrower scope than the source."""
    return register(platform, name="住建服务", redirect_uris=[f"https://{TARGET_HOST}/cb"],
                    scope="openid profile", subject_type="pairwise",
                    grant_types=["authorization_code", TOKEN_EXCHANGE])


@pytest.fixture
def source(platform, target) -> Rp:
    return register(platform, grant_types=["authorization_code", "refresh_token",
                                           TOKEN_EXCHANGE],
                    exchange_audiences=[target.client_id, "no-such-client"])


@pytest.fixture
def subject(client, platform, citizen, source) -> dict[str, Any]:
    """The person's tokens at the source system (code flow, level 2, password + SMS)."""
    sign_in(client, platform, citizen, level=2, amr=["pwd", "sms"])
    return tokens(client, source, Pkce(), scope="openid profile phone offline_access")


def decode(client, token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, jwks(client), algorithms=["ES256", "RS256"]).claims)


def edit(platform, client_id: str, **values: Any) -> None:
    from admin_ui.client_edit import update as update_client

    with platform.db.session() as db:
        update_client(db, client_id, values, actor="test")


# -- success ---------------------------------------------------------------------------------


def test_exchange_issues_a_target_token_with_act(client, platform, citizen, source, target,
                                                 subject):
    resp = exchange(client, source, subject["access_token"], audience=target.client_id)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer" and "refresh_token" not in body
    assert body["scope"] == "openid profile"  # phone: the target does not serve it
    assert resp.headers["Cache-Control"] == "no-store"
    assert is_handle(body["access_token"])  # opaque: nothing for the requester to read
    held = decode(client, subject["access_token"])
    with platform.db.session() as db:
        target_row = db.scalars(select(Client).where(Client.client_id == target.client_id)).one()
        pairwise = subject_for(target_row, citizen.sub, platform.settings.secret_key)
    # The target API introspects it and sees who acts, as whom the person is known there.
    got = introspect(client, target, body["access_token"])
    assert got["active"] and got["act"] == {"sub": source.client_id}
    assert got["aud"] == target.client_id and got["client_id"] == source.client_id
    for name in ("acr", "auth_time", "iss"):
        assert got[name] == held[name]
    assert got["sub"] == pairwise != held["sub"]
    assert got["exp"] <= held["exp"]
    assert "parent_jti" not in got and "ctx" not in got  # server-side bookkeeping stays
    with platform.db.session() as db:
        audit = db.scalars(select(AuditRecord).where(
            AuditRecord.action == "oidc:token:exchange")).all()
    assert [(a.outcome, a.actor, a.details["audience"]) for a in audit] == [
        ("success", f"client:{source.client_id}", target.client_id)]


def test_requested_scope_is_narrowed_and_resource_names_the_target(client, source, target,
                                                                   subject):
    resp = exchange(client, source, subject["access_token"], audience=target.client_id,
                    scope="openid", resource=f"https://{TARGET_HOST}/api/housing")
    assert resp.status_code == 200, resp.get_json()
    assert introspect(client, target, resp.get_json()["access_token"])["scope"] == "openid"


def test_exchanged_token_can_be_exchanged_again_with_nested_act(client, platform, source,
                                                                target, subject):
    third = register(platform, name="公积金服务", redirect_uris=["https://gjj.example.gov.cn/cb"])
    edit(platform, target.client_id, exchange_audiences=[third.client_id])
    first = exchange(client, source, subject["access_token"], audience=target.client_id)
    second = exchange(client, target, first.get_json()["access_token"],
                      audience=third.client_id)
    assert second.status_code == 200, second.get_json()
    got = introspect(client, third, second.get_json()["access_token"])
    assert got["act"] == {"sub": target.client_id, "act": {"sub": source.client_id}}
    assert got["aud"] == third.client_id
    # The token of the first hop belongs to the target: the source cannot exchange it.
    again = exchange(client, source, first.get_json()["access_token"],
                     audience=target.client_id)
    assert again.get_json()["error"] == "invalid_request"


def test_lifetime_never_exceeds_the_subject_token(client, source, target, subject,
                                                  monkeypatch):
    held = decode(client, subject["access_token"])
    # Ten seconds before the subject token ends (the exchange's clock only).
    fake = SimpleNamespace(time=lambda: held["exp"] - 10)
    monkeypatch.setattr("idp.oidc.exchange.time", fake)
    resp = exchange(client, source, subject["access_token"], audience=target.client_id)
    assert resp.status_code == 200, resp.get_json()
    assert introspect(client, target, resp.get_json()["access_token"])["exp"] == held["exp"]
    assert resp.get_json()["expires_in"] == 10


def test_discovery_advertises_the_grant(client):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert TOKEN_EXCHANGE in meta["grant_types_supported"]


# -- refusals --------------------------------------------------------------------------------


def _foreign_token(_client, _subject) -> str:
    """A well-formed RFC 9068 token from another issuer, signed by another key."""
    key = ECKey.generate_key("P-256", private=True)
    now = int(time.time())
    claims = {"iss": "https://other.example", "aud": "x", "sub": "s", "exp": now + 300,
              "iat": now, "jti": "j", "client_id": "x", "scope": "openid"}
    return jwt.encode({"alg": "ES256", "typ": "at+jwt"}, claims, key)


def _tampered(_client, subject) -> str:
    head, body, sig = subject["access_token"].split(".")
    return f"{head}.{body[:-2]}AA.{sig}"


BAD = [
    pytest.param({"audience": "A"}, "invalid_target", id="audience-not-allowed"),
    pytest.param({"audience": "no-such-client"}, "invalid_target", id="unknown-audience"),
    pytest.param({"audience": None}, "invalid_target", id="no-audience"),
    pytest.param({"audience": ["T", "A"]}, "invalid_target", id="two-audiences"),
    pytest.param({"resource": "https://evil.example/api"}, "invalid_target",
                 id="resource-elsewhere"),
    pytest.param({"resource": "not a uri"}, "invalid_target", id="resource-not-uri"),
    pytest.param({"scope": "openid phone"}, "invalid_scope", id="scope-beyond-target"),
    pytest.param({"scope": "openid realname"}, "invalid_scope", id="scope-beyond-subject"),
    pytest.param({"scope": "nonsense"}, "invalid_scope", id="scope-unknown"),
    pytest.param({"subject_token": None}, "invalid_request", id="no-subject-token"),
    pytest.param({"subject_token": "garbage"}, "invalid_request", id="garbage-token"),
    pytest.param({"subject_token": "a.b.c"}, "invalid_request", id="garbage-jwt"),
    pytest.param({"subject_token": _tampered}, "invalid_request", id="tampered-token"),
    pytest.param({"subject_token": _foreign_token}, "invalid_request", id="foreign-issuer"),
    pytest.param({"subject_token": lambda c, s: s["refresh_token"]}, "invalid_request",
                 id="refresh-token-as-subject"),
    pytest.param({"subject_token": lambda c, s: s["id_token"]}, "invalid_request",
                 id="id-token-as-subject"),
    pytest.param({"subject_token_type": None}, "invalid_request", id="no-token-type"),
    pytest.param({"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
                 "invalid_request", id="id-token-type"),
    pytest.param({"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
                 "invalid_request", id="refresh-requested"),
    pytest.param({"actor_token": "x", "actor_token_type": ACCESS_TOKEN_TYPE},
                 "invalid_request", id="actor-token"),
    pytest.param({"subject_token_type": [ACCESS_TOKEN_TYPE, ACCESS_TOKEN_TYPE]},
                 "invalid_request", id="repeated-parameter"),
    pytest.param({"subject_token": "令牌.令牌.令牌"}, "invalid_request", id="non-ascii"),
]


@pytest.mark.parametrize(("override", "error"), BAD)
def test_bad_exchange_requests_are_refused(client, platform, source, target, subject,
                                           override, error):
    other = register(platform, name="其他服务")  # registered, but not an allowed audience
    names = {"T": target.client_id, "A": other.client_id}
    data: dict[str, Any] = {"audience": target.client_id}
    for key, value in override.items():
        if callable(value):
            value = value(client, subject)
        elif isinstance(value, list):
            value = [names.get(v, v) for v in value]
        elif isinstance(value, str):
            value = names.get(value, value)
        data[key] = value
    token = data.pop("subject_token", subject["access_token"])
    resp = exchange(client, source, token, **data) if token is not None else client.post(
        "/token", data={"grant_type": TOKEN_EXCHANGE, "subject_token_type": ACCESS_TOKEN_TYPE,
                        **data}, headers=source.basic())
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json()["error"] == error
    assert "access_token" not in resp.get_json()


def test_disabled_target_is_refused(client, platform, source, target, subject):
    with platform.db.session() as db:
        client_service.disable(db, target.client_id, actor="test")
    resp = exchange(client, source, subject["access_token"], audience=target.client_id)
    assert resp.get_json()["error"] == "invalid_target"


def test_revoked_subject_token_is_refused(client, source, target, subject):
    assert client.post("/revoke", data={"token": subject["access_token"]},
                       headers=source.basic()).status_code == 200
    resp = exchange(client, source, subject["access_token"], audience=target.client_id)
    assert resp.get_json()["error"] == "invalid_request"


def test_expired_subject_token_is_refused(client, source, target, subject, monkeypatch):
    later = time.time() + 86400
    monkeypatch.setattr("idp.oidc.tokens.time", SimpleNamespace(time=lambda: later))
    resp = exchange(client, source, subject["access_token"], audience=target.client_id)
    assert resp.get_json()["error"] == "invalid_request"


def test_banned_person_token_is_refused_and_audited(client, platform, citizen, source,
                                                    target, subject):
    with platform.db.session() as db:
        db.execute(update(Person).where(Person.id == citizen.person_id)
                   .values(status=AccountStatus.BANNED.value))
    resp = exchange(client, source, subject["access_token"], audience=target.client_id)
    assert resp.get_json()["error"] == "invalid_request"
    with platform.db.session() as db:
        refused = db.scalars(select(AuditRecord).where(
            AuditRecord.action == "oidc:token:exchange")).one()
    assert refused.outcome == "failure" and refused.details["reason"] == "person_inactive"
    assert refused.target == f"person:{citizen.person_id}"


def test_client_token_without_a_person_is_refused(client, platform, target):
    machine = register(platform, grant_types=["client_credentials", TOKEN_EXCHANGE],
                       scope="", redirect_uris=[], exchange_audiences=[target.client_id])
    cc = client.post("/token", data={"grant_type": "client_credentials"},
                     headers=machine.basic()).get_json()["access_token"]
    resp = exchange(client, machine, cc, audience=target.client_id)
    assert resp.get_json()["error"] == "invalid_request"


def test_client_without_the_grant_is_unauthorized(client, platform, citizen, target):
    plain = register(platform, exchange_audiences=[target.client_id])
    sign_in(client, platform, citizen)
    held = tokens(client, plain, Pkce())
    resp = exchange(client, plain, held["access_token"], audience=target.client_id)
    assert resp.get_json()["error"] == "unauthorized_client"


def test_public_client_cannot_exchange(client, platform, citizen, source, target, subject):
    public = register(platform, public=True)
    resp = client.post("/token", data={
        "grant_type": TOKEN_EXCHANGE, "client_id": public.client_id,
        "subject_token": subject["access_token"], "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": target.client_id})
    assert resp.status_code == 401 and resp.get_json()["error"] == "invalid_client"
    with pytest.raises(client_service.ClientError, match="public client"):
        register(platform, public=True, grant_types=["authorization_code", TOKEN_EXCHANGE])


POLICY = [
    pytest.param({"min_realname_level": 3}, id="level-too-low"),
    pytest.param({"allowed_account_kinds": ["legal_acting"],
                  "backchannel_logout_uri": "https://zj.example.gov.cn/bcl"}, id="acting-only"),
]


@pytest.mark.parametrize("policy", POLICY)
def test_target_policy_must_accept_the_person(client, platform, source, target, subject,
                                              policy):
    edit(platform, target.client_id, **policy)
    resp = exchange(client, source, subject["access_token"], audience=target.client_id)
    assert resp.get_json()["error"] == "invalid_target"


@pytest.mark.parametrize(("amr", "status"), [(["pwd"], 400), (["pwd", "sms"], 200)])
def test_target_requiring_a_second_factor(client, platform, citizen, source, target, amr,
                                          status):
    edit(platform, target.client_id, require_mfa=True)
    sign_in(client, platform, citizen, level=2, amr=amr)
    held = tokens(client, source, Pkce())
    resp = exchange(client, source, held["access_token"], audience=target.client_id)
    assert resp.status_code == status, resp.get_json()


def test_policy_change_applies_to_the_next_exchange(client, platform, source, target,
                                                    subject):
    assert exchange(client, source, subject["access_token"],
                    audience=target.client_id).status_code == 200
    edit(platform, source.client_id, exchange_audiences=[])
    resp = exchange(client, source, subject["access_token"], audience=target.client_id)
    assert resp.get_json()["error"] == "invalid_target"
    edit(platform, source.client_id, exchange_audiences=[target.client_id])
    assert exchange(client, source, subject["access_token"],
                    audience=target.client_id).status_code == 200


# -- acting for a legal person (issue 4 item 5 claims carried over) -----------------------------


@pytest.fixture
def tree(platform, make_citizen):  # type: ignore[no-untyped-def]
    from tests.delegation.helpers import build_tree

    return build_tree(platform, make_citizen)


def _as_department(platform, rp: Rp, client_id: str) -> Rp:
    """Give a registered client the id the delegation tree's grants name."""
    with platform.db.session() as db:
        db.execute(update(Client).where(Client.client_id == rp.client_id)
                   .values(client_id=client_id))
    return Rp(client_id, rp.secret, rp.redirect_uri)


def _acting_token(app, client, platform, tree, name: str, source: Rp) -> str:
    """The person's token at the source, acting for the tree's enterprise (``actx``)."""
    from idp.delegation.authority import authority_of
    from idp.oidc.acting import ActingRef, seal

    sign_in(client, platform, tree.people[name], level=2, amr=["pwd", "sms"])
    claims = decode(client, tokens(client, source, Pkce())["access_token"])
    with platform.db.session() as db:
        authority = authority_of(db, tree.pid(name), tree.org_id, source.client_id)[0]
    claims["actx"] = seal(platform.protector, ActingRef.of(authority))
    with app.app_context():
        return app.extensions["oidc"].keys.compact_signer().sign("at+jwt", claims)


@pytest.fixture
def departments(platform):  # type: ignore[no-untyped-def]
    kinds = ["natural", "legal_acting"]
    target = _as_department(platform, register(
        platform, name="税务服务", redirect_uris=["https://tax.example.gov.cn/cb"],
        allowed_account_kinds=kinds), "dept-b")
    source = _as_department(platform, register(
        platform, name="市场监管服务", grant_types=["authorization_code", TOKEN_EXCHANGE],
        exchange_audiences=["dept-b"]), "dept-a")
    return source, target


def test_authority_is_carried_over_when_it_covers_the_target(app, client, platform, tree,
                                                            departments):
    source, target = departments
    token = _acting_token(app, client, platform, tree, "a", source)
    resp = exchange(client, source, token, audience=target.client_id)
    assert resp.status_code == 200, resp.get_json()
    # The target introspects it: the authority is re-checked live at the target.
    got = introspect(client, target, resp.get_json()["access_token"])
    assert got["active"] and got["org"]["credit_code"] == "91350100M000100Y43"
    assert got["authority"]["role"] == "delegate"
    assert got["authority"]["items"] == ["read"]  # a's items at the target, not the source's
    assert "actx" not in got and got["act"] == {"sub": "dept-a"}
    with platform.db.session() as db:
        from idp.delegation.service import Delegation

        Delegation.from_platform(db, platform).change(
            tree.pid("rep"), tree.grants["a"], scope=[("dept-a", "*")])  # dept-b withdrawn
    assert introspect(client, target, resp.get_json()["access_token"]) == {"active": False}


@pytest.mark.parametrize("case", ["not-covering", "cancelled", "target-natural-only"])
def test_authority_not_covering_the_target_is_refused(app, client, platform, tree,
                                                      departments, case):
    from tests.delegation.helpers import delegation

    source, target = departments
    name = "c" if case == "not-covering" else "a"  # c holds authority at dept-a only
    token = _acting_token(app, client, platform, tree, name, source)
    if case == "cancelled":
        with delegation(platform) as d:
            d.cancel(tree.pid("rep"), tree.grants["a"])
    if case == "target-natural-only":
        edit(platform, target.client_id, allowed_account_kinds=["natural"])
    resp = exchange(client, source, token, audience=target.client_id)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_target"


def test_userinfo_with_an_exchanged_token_answers_as_the_target(client, platform, citizen,
                                                                 source, target, subject):
    body = exchange(client, source, subject["access_token"],
                    audience=target.client_id).get_json()
    resp = client.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert resp.status_code == 200, resp.get_json()
    info = resp.get_json()
    with platform.db.session() as db:
        pairwise = subject_for(db.scalars(select(Client).where(
            Client.client_id == target.client_id)).one(), citizen.sub,
            platform.settings.secret_key)
    assert info["sub"] == pairwise != citizen.sub  # the target's subject, not the source's
    assert "phone_number" not in info  # the exchanged scope: the target serves no phone
