"""``idp clients`` and ``idp keys`` through click's CliRunner (issue 2 item 7)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def run(idp_cli):  # type: ignore[no-untyped-def]
    """``idp …`` on this test's database (tests/conftest.py `idp_cli`)."""
    return idp_cli


def test_clients_create_json_then_list_show_rotate_disable(run, client):
    made = run("clients", "create", "--name", "住房公积金", "--redirect-uri",
               "https://gjj.example.gov.cn/cb", "--redirect-uri", "https://gjj.example.gov.cn/cb2",
               "--grant-type", "authorization_code", "--grant-type", "refresh_token",
               "--scope", "openid profile offline_access",
               "--post-logout-redirect-uri", "https://gjj.example.gov.cn/bye",
               "--backchannel-logout-uri", "https://gjj.example.gov.cn/bcl",
               "--min-level", "2", "--require-mfa", "--json")
    assert made.exit_code == 0, made.output
    created = json.loads(made.output)
    assert created["client_id"] and len(created["client_secret"]) >= 40
    listed = run("clients", "list")
    assert created["client_id"] in listed.output and "住房公积金" in listed.output
    shown = json.loads(run("clients", "show", created["client_id"]).output)
    assert shown["min_realname_level"] == 2 and shown["require_mfa"] is True
    assert shown["redirect_uris"] == ["https://gjj.example.gov.cn/cb",
                                      "https://gjj.example.gov.cn/cb2"]
    assert created["client_secret"] not in json.dumps(shown)
    rotated = json.loads(run("clients", "rotate-secret", created["client_id"], "--json").output)
    assert rotated["client_secret"] != created["client_secret"]
    assert run("clients", "disable", created["client_id"]).exit_code == 0
    assert json.loads(run("clients", "show", created["client_id"]).output)["disabled"] is True


def test_clients_create_public_has_no_secret(run):
    made = run("clients", "create", "--name", "App", "--public",
               "--redirect-uri", "cn.gov.app:/cb", "--json")
    assert json.loads(made.output)["client_secret"] is None


@pytest.mark.parametrize("args,message", [
    (["--name", "x"], "redirect-uri"),
    (["--name", "x", "--redirect-uri", "javascript:alert(1)"], "absolute URI"),
    (["--name", "x", "--redirect-uri", "https://a/cb#frag"], "absolute URI"),
    (["--name", "x", "--public", "--grant-type", "client_credentials"], "public"),
    (["--name", "x", "--redirect-uri", "https://a/cb", "--scope", "openid email"], "unknown"),
    (["--name", "x", "--redirect-uri", "https://a/cb", "--token-auth-method",
      "private_key_jwt"], "jwks"),
])
def test_clients_create_refuses_bad_registrations(run, args, message):
    result = run("clients", "create", *args)
    assert result.exit_code == 2 and message in result.output


def test_unknown_client_is_an_error(run):
    assert run("clients", "show", "nope").exit_code == 2
    assert run("clients", "rotate-secret", "nope").exit_code == 2


def test_keys_rotate_list_prune(run, client):
    client.get("/jwks")  # first keys
    out = run("keys", "rotate")
    assert out.exit_code == 0 and "new signing key es256-" in out.output
    listed = run("keys", "list").output
    assert "retired, published until" in listed and listed.count("active") >= 2
    assert "deleted 0" in run("keys", "prune").output


def test_generated_client_ids_never_look_like_options(monkeypatch):
    from idp.oidc import clients

    ids = iter(["-R8dE1xTtq0bG8Mp2sZx6A", "-xyz", "Qm9vZ3Vz0123456789abcd"])
    monkeypatch.setattr(clients, "random_token", lambda n: next(ids))
    assert clients.new_client_id() == "Qm9vZ3Vz0123456789abcd"
