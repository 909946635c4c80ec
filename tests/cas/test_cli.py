"""``idp cas-services create|list|disable`` (issue 7 item 4)."""

from __future__ import annotations

import json

import pytest

from tests.cas.conftest import SERVICE


@pytest.fixture
def run(idp_cli):  # type: ignore[no-untyped-def]
    """``idp …`` on this test's database (tests/conftest.py `idp_cli`)."""
    return idp_cli


def test_create_list_disable(run, client):
    made = run("cas-services", "create", "--name", "公积金", "--service", SERVICE,
               "--scope", "profile phone", "--min-level", "2")
    assert made.exit_code == 0, made.output
    row = json.loads(made.output)
    assert row["service"] == SERVICE and row["min_level"] == 2
    listed = [json.loads(line) for line in run("cas-services", "list").output.splitlines()]
    assert [r["id"] for r in listed] == [row["id"]]
    assert run("cas-services", "disable", str(row["id"])).exit_code == 0
    assert json.loads(run("cas-services", "list").output)["disabled"] is True
    assert client.get("/cas/login", query_string={"service": SERVICE}).status_code == 403


def test_create_refuses_bad_pattern_with_exit_2(run):
    bad = run("cas-services", "create", "--name", "x", "--service", "javascript:alert(1)")
    assert bad.exit_code == 2 and "absolute http" in bad.output
    assert run("cas-services", "disable", "999").exit_code == 2
