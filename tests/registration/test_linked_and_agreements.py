"""Linked registration through the simulator's OIDC provider (R-12), and agreement versions
(issue 3 item 6): acceptance stored with version, channel and text hash; re-signed at login."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from sqlalchemy import select

from idp.accounts.models import Person
from idp.realname import agreements
from idp.realname.models import AgreementAcceptance
from tests.registration.conftest import P01, P02, P10_DECEASED, PASSWORD, audit_rows, persons
from tests.web.conftest import login, make_tx, post


def upstream(client, hint: str) -> str:  # type: ignore[no-untyped-def]
    """Go to the trusted platform as the browser would; it approves ``hint``'s identity and
    sends the browser back: return our callback URL (path + query)."""
    resp = client.get("/register/linked/sim")
    assert resp.status_code == 302
    url = resp.headers["Location"]
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"][0]
    back = requests.get(url + "&" + urlencode({"login_hint": hint}), allow_redirects=False,
                        timeout=10)
    assert back.status_code in (302, 303)
    parts = urlsplit(back.headers["Location"])
    return f"{parts.path}?{parts.query}"


def test_linked_registration_end_to_end(client, platform) -> None:
    resp = client.get(upstream(client, "P01"))  # 张伟: loa-3 → level 2
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/register/password")
    post(client, "/register/password", {"new_password": PASSWORD, "confirm_password": PASSWORD})
    resp = post(client, "/register/agreement", {"accept": "yes", "version": "2024-01"})
    assert resp.status_code == 302
    with platform.db.session() as db:
        person = db.scalars(select(Person)).one()
        assert (person.channel, person.realname_level) == ("linked", 2)
        assert db.scalars(select(AgreementAcceptance)).one().channel == "linked"
    assert "trusted_platform" in {r.target for r in audit_rows(platform, "realname:verify")}


def test_linked_level_follows_the_configured_mapping(client, platform) -> None:
    client.get(upstream(client, "P02"))  # 王芳: loa-2 → level 1
    post(client, "/register/password", {"new_password": PASSWORD, "confirm_password": PASSWORD})
    post(client, "/register/agreement", {"accept": "yes", "version": "2024-01"})
    with platform.db.session() as db:
        assert db.scalars(select(Person)).one().realname_level == 1


@pytest.mark.parametrize(("hint", "text"), [
    ("P07", "实名等级不足"),  # loa-1 is not mapped
    ("P10", "未返回您的实名身份"),  # deceased: the platform answers access_denied
])
def test_linked_refusals(client, platform, hint, text) -> None:
    resp = client.get(upstream(client, hint))
    assert text in resp.get_data(as_text=True)
    assert persons(platform) == 0


def test_linked_already_registered(client, platform, make_citizen) -> None:
    make_citizen(id_number=P01["id_number"], name=P01["name"], phone=P01["phone"])
    assert "该证件号码已注册" in client.get(upstream(client, "P01")).get_data(as_text=True)


def test_linked_callback_state_is_single_use(client) -> None:
    callback = upstream(client, "P02")
    assert client.get(callback).status_code == 302
    assert "已过期" in client.get(callback).get_data(as_text=True)


def test_linked_upstream_down_names_it(client, simulator) -> None:
    simulator.sim.modes.set("trusted_platform", "down")
    assert "可信平台身份" in client.get("/register/linked/sim").get_data(as_text=True)


# -- agreement versions -------------------------------------------------------------------------

def test_agreement_texts_are_versioned_and_hashed() -> None:
    old, new = agreements.load("2024-01"), agreements.load("2025-06")
    assert old.sha256 != new.sha256 and "2025-06" in new.text
    with pytest.raises(agreements.AgreementMissing):
        agreements.load("../etc/passwd")
    with pytest.raises(agreements.AgreementMissing):
        agreements.load("1999-01")


def register_p02(client) -> None:  # type: ignore[no-untyped-def]
    reg_id = client.post("/api/v1/registrations", json={
        "name": P02["name"], "id_type": "resident_id", "id_number": P02["id_number"],
        "channel": "kiosk"}).get_json()["id"]
    for factor, body in (("social_security", {"card_number": P02["social"]}),
                         ("provident_fund", {"account_number": P02["fund"]})):
        client.post(f"/api/v1/registrations/{reg_id}/factors/{factor}", json=body)
    client.post(f"/api/v1/registrations/{reg_id}/password", json={"password": PASSWORD})
    assert client.post(f"/api/v1/registrations/{reg_id}/agreement",
                       json={"version": "2024-01"}).status_code == 201


def test_new_version_must_be_signed_before_login_completes(app, client, platform,
                                                          monkeypatch) -> None:
    register_p02(client)
    assert login(client, P02["id_number"], PASSWORD).headers["Location"].endswith("/account")
    monkeypatch.setattr(platform, "settings", platform.settings.__class__(
        **{**platform.settings.__dict__, "agreement_version": "2025-06"}))
    fresh = app.test_client()
    tx = make_tx(platform)
    resp = login(fresh, P02["id_number"], PASSWORD, url=f"/login?tx={tx.id}")
    assert f"/agreement?tx={tx.id}" in resp.headers["Location"]
    # Not signed yet: the session is unusable.
    assert fresh.get("/account").status_code == 302
    page = fresh.get(f"/agreement?tx={tx.id}").get_data(as_text=True)
    assert "2025-06" in page
    resp = post(fresh, f"/agreement?tx={tx.id}", {"version": "2025-06"})
    assert "请阅读并勾选" in resp.get_data(as_text=True)
    resp = post(fresh, f"/agreement?tx={tx.id}", {"accept": "yes", "version": "2025-06"})
    assert f"/authorize/resume?tx={tx.id}" in resp.headers["Location"]
    with platform.db.session() as db:
        versions = [a.version for a in db.scalars(
            select(AgreementAcceptance).order_by(AgreementAcceptance.id))]
        assert versions == ["2024-01", "2025-06"]
    assert "agreement:accept" in {r.action for r in audit_rows(platform)}


def test_accounts_that_never_signed_online_are_not_stopped(client, citizen, platform,
                                                            monkeypatch) -> None:
    monkeypatch.setattr(platform, "settings", platform.settings.__class__(
        **{**platform.settings.__dict__, "agreement_version": "2025-06"}))
    assert login(client, citizen.id_number, citizen.password
                 ).headers["Location"].endswith("/account")


def test_deceased_person_cannot_register_by_api(client) -> None:
    resp = client.post("/api/v1/registrations", json={
        "name": P10_DECEASED["name"], "id_type": "resident_id",
        "id_number": P10_DECEASED["id_number"], "channel": "web"})
    assert resp.status_code == 403
    assert "吴" not in resp.get_data(as_text=True)
