"""Token exchange hardening (issue 4 item 6, security review): no full ID number reaches a
system that is not approved for it by way of an exchange, exchanged tokens do not show the
requester the person's subject at the target, and registrations that would allow either
(``idcard`` without approval; ``legal_acting`` without back-channel logout) are refused
by every way in: the library, the console/API and the CLI."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from idp.audit.models import AuditRecord
from idp.oidc import clients as client_service
from idp.oidc.clients import TOKEN_EXCHANGE
from idp.oidc.models import Client
from idp.oidc.subject import subject_for
from tests.oidc.helpers import REDIRECT, Pkce, Rp, exchange, introspect, register, sign_in, tokens

IDCARD_SCOPE = "openid profile idcard"


def _pair(platform, *, requester_idcard: str, target_idcard: bool) -> tuple[Rp, Rp]:
    """Requester R and target T. ``requester_idcard``: ``allowed`` (approved, idcard in
    scope), ``legacy`` (idcard in scope without approval: a row from before the rule),
    ``none``."""
    target = register(platform, name="住建服务", redirect_uris=["https://zj.example.gov.cn/cb"],
                      subject_type="pairwise", allow_idcard=target_idcard,
                      scope=IDCARD_SCOPE if target_idcard else "openid profile")
    requester = register(platform, grant_types=["authorization_code", TOKEN_EXCHANGE],
                         exchange_audiences=[target.client_id],
                         scope=IDCARD_SCOPE if requester_idcard == "allowed" else "openid profile",
                         allow_idcard=requester_idcard == "allowed")
    if requester_idcard == "legacy":
        with platform.db.session() as db:
            db.execute(update(Client).where(Client.client_id == requester.client_id)
                       .values(scope=IDCARD_SCOPE, allow_idcard=False))
    return requester, target


def _userinfo(client, token: str) -> Any:
    return client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})


def _idcard_audits(platform) -> list[AuditRecord]:
    with platform.db.session() as db:
        return list(db.scalars(select(AuditRecord).where(
            AuditRecord.action == "oidc:userinfo:idcard")))


# -- 1. full ID numbers only when the requester *and* the target are approved ----------------


@pytest.mark.parametrize(("requester_idcard", "target_idcard", "released"), [
    pytest.param("legacy", True, False, id="requester-scope-without-approval"),
    pytest.param("none", True, False, id="requester-without-idcard"),
    pytest.param("allowed", False, False, id="target-not-approved"),
    pytest.param("allowed", True, True, id="both-approved"),
])
def test_full_id_number_needs_requester_and_target_approval(
        client, platform, citizen, requester_idcard, target_idcard, released):
    requester, target = _pair(platform, requester_idcard=requester_idcard,
                              target_idcard=target_idcard)
    sign_in(client, platform, citizen)
    held = tokens(client, requester, Pkce(), scope=IDCARD_SCOPE)["access_token"]
    resp = exchange(client, requester, held, audience=target.client_id)
    assert resp.status_code == 200, resp.get_json()
    assert ("idcard" in resp.get_json()["scope"].split()) is released
    token = resp.get_json()["access_token"]
    # The requester itself presents the exchanged token at userinfo (the reported attack).
    info = _userinfo(client, token).get_json()
    assert ("id_number" in info) is released
    if released:
        assert info["id_number"] == citizen.id_number
    assert ("idcard" in introspect(client, target, token)["scope"].split()) is released
    audits = _idcard_audits(platform)
    assert [(a.actor, a.details) for a in audits] == ([(
        f"client:{requester.client_id}",
        {"audience": target.client_id, "act": [requester.client_id]})] if released else [])


@pytest.mark.parametrize("requester_idcard", ["legacy", "none"])
def test_asking_for_idcard_without_approval_is_invalid_scope(client, platform, citizen,
                                                             requester_idcard):
    requester, target = _pair(platform, requester_idcard=requester_idcard, target_idcard=True)
    sign_in(client, platform, citizen)
    held = tokens(client, requester, Pkce(), scope=IDCARD_SCOPE)["access_token"]
    resp = exchange(client, requester, held, audience=target.client_id, scope="openid idcard")
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_scope"


@pytest.mark.parametrize("change", ["approval-withdrawn", "requester-disabled"])
def test_userinfo_and_introspection_apply_the_requesters_current_policy(client, platform,
                                                                       citizen, change):
    requester, target = _pair(platform, requester_idcard="allowed", target_idcard=True)
    sign_in(client, platform, citizen)
    held = tokens(client, requester, Pkce(), scope=IDCARD_SCOPE)["access_token"]
    token = exchange(client, requester, held, audience=target.client_id).get_json()[
        "access_token"]
    assert "id_number" in _userinfo(client, token).get_json()
    with platform.db.session() as db:
        if change == "approval-withdrawn":
            from admin_ui.client_edit import update as update_client

            update_client(db, requester.client_id,
                          {"scope": "openid profile", "allow_idcard": False}, actor="test")
        else:
            client_service.disable(db, requester.client_id, actor="test")
    resp, seen = _userinfo(client, token), introspect(client, target, token)
    if change == "approval-withdrawn":
        assert resp.status_code == 200 and "id_number" not in resp.get_json()
        assert seen["active"] and seen["scope"] == "openid profile"
    else:
        assert resp.status_code == 401 and seen == {"active": False}


# -- 2. the exchanged token tells the requester nothing about the person at the target -------


def test_exchanged_token_is_opaque_and_only_the_target_reads_it(client, platform, citizen):
    requester, target = _pair(platform, requester_idcard="none", target_idcard=False)
    sign_in(client, platform, citizen)
    held = tokens(client, requester, Pkce())["access_token"]
    resp = exchange(client, requester, held, audience=target.client_id)
    with platform.db.session() as db:
        pairwise = subject_for(db.scalars(select(Client).where(
            Client.client_id == target.client_id)).one(), citizen.sub,
            platform.settings.secret_key)
    token = resp.get_json()["access_token"]
    assert pairwise not in resp.get_data(as_text=True) and token.count(".") == 1
    assert introspect(client, requester, token) == {"active": False}
    assert introspect(client, target, token)["sub"] == pairwise
    # A forged or guessed handle is nobody's token.
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert introspect(client, target, forged) == {"active": False}
    assert _userinfo(client, forged).status_code == 401


# -- registrations that would undo this are refused everywhere --------------------------------


BCL = "https://rp.example.gov.cn/backchannel"
RULES = [
    pytest.param({"scope": "openid idcard"}, "allow_idcard", id="idcard-without-approval"),
    pytest.param({"allowed_account_kinds": ["natural", "legal_acting"],
                  "backchannel_logout_uri": None}, "backchannel_logout_uri",
                 id="legal-acting-without-backchannel"),
    pytest.param({"allowed_account_kinds": ["legal_acting"], "backchannel_logout_uri": None},
                 "backchannel_logout_uri", id="legal-acting-only-without-backchannel"),
    pytest.param({"scope": "openid idcard", "allow_idcard": True}, None, id="idcard-approved"),
    pytest.param({"allowed_account_kinds": ["legal_acting"], "backchannel_logout_uri": BCL},
                 None, id="legal-acting-with-backchannel"),
]


@pytest.mark.parametrize(("values", "field"), RULES)
def test_registration_rules_in_the_library(platform, values, field):
    if field is None:
        assert register(platform, **values).client_id
    else:
        with pytest.raises(client_service.ClientError):
            register(platform, **values)


@pytest.mark.parametrize(("values", "field"), RULES)
def test_registration_rules_in_the_console(platform, values, field):
    from admin_ui.client_edit import FieldErrors
    from admin_ui.client_edit import update as update_client

    rp = register(platform)  # registered without a back-channel logout URI
    values = {k: v for k, v in values.items() if v is not None}
    with platform.db.session() as db:
        if field is None:
            assert update_client(db, rp.client_id, values, actor="test")[1]
            return
        with pytest.raises(FieldErrors) as raised:
            update_client(db, rp.client_id, values, actor="test")
    assert raised.value.errors == [{"field": field, "code": "required"}]


CLI_RULES = [
    pytest.param(["--scope", "openid idcard"], "allow_idcard", id="idcard-without-approval"),
    pytest.param(["--account-kind", "legal_acting"], "back-channel",
                 id="legal-acting-without-backchannel"),
    pytest.param(["--scope", "openid idcard", "--allow-idcard"], None, id="idcard-approved"),
    pytest.param(["--account-kind", "legal_acting", "--backchannel-logout-uri", BCL], None,
                 id="legal-acting-with-backchannel"),
]


@pytest.mark.parametrize(("args", "message"), CLI_RULES)
def test_registration_rules_in_the_cli(idp_cli, args, message):
    result = idp_cli("clients", "create", "--name", "公积金", "--redirect-uri", REDIRECT,
                     "--json", *args)
    if message is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2 and message in result.output
