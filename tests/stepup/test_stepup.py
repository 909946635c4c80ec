"""Step-up (issue 3 item 5): a client or acr_values asking for more leads to the missing factor."""

from __future__ import annotations

import io

import pytest

from idp.accounts.stepup import Missing, face_level, plan
from tests.face.conftest import JPEG, SUN_HAO, ZHANG_WEI
from tests.oidc.helpers import (
    Pkce,
    auth_params,
    query,
    redeem,
    register,
    sign_in,
    verify_id_token,
)


def _to_stepup(client, params):  # type: ignore[no-untyped-def]
    """/authorize → /login?tx → (already signed in) → the step-up page."""
    login = client.get("/authorize", query_string=params)
    assert login.status_code == 302 and login.location.startswith("/login?tx=")
    stepup = client.get(login.location)
    assert stepup.status_code == 302 and stepup.location.startswith("/login/stepup?tx="), \
        stepup.location
    return stepup.location


def _face(client, url, image=JPEG):  # type: ignore[no-untyped-def]
    with client.session_transaction() as sess:
        csrf = sess.get("csrf") or "x"
        sess["csrf"] = csrf
    return client.post(url, content_type="multipart/form-data",
                       data={"csrf_token": csrf, "photo": (io.BytesIO(image), "me.jpg")})


def test_client_minimum_level_two_is_reached_by_face(client, platform, make_citizen):
    citizen = make_citizen(**ZHANG_WEI, realname_level=1)
    rp = register(platform, min_realname_level=2)
    sign_in(client, platform, citizen, level=1)
    pkce = Pkce()
    params = auth_params(rp, pkce)
    url = _to_stepup(client, params)
    page = client.get(url)
    assert page.status_code == 200 and 'name="photo"' in page.get_data(as_text=True)
    resumed = _face(client, url)
    assert resumed.status_code == 302 and resumed.location.startswith("/authorize/resume?tx=")
    got = query(client.get(resumed.location).location)
    assert got["state"] == params["state"] and "code" in got
    claims = verify_id_token(client, rp, redeem(client, rp, got["code"], pkce)
                             .get_json()["id_token"])
    assert claims["acr"] == "urn:idp:acr:realname:2"
    assert "face" in claims["amr"] and "pwd" in claims["amr"]


def test_acr_values_level_two_is_offered_the_face_step(client, platform, make_citizen):
    citizen = make_citizen(**ZHANG_WEI)
    rp = register(platform)
    sign_in(client, platform, citizen, level=1)
    url = _to_stepup(client, auth_params(rp, Pkce(), acr_values="urn:idp:acr:realname:2"))
    resumed = _face(client, url)
    got = query(client.get(resumed.location).location)
    assert "code" in got


def test_level_three_explains_the_counter_visit(client, platform, make_citizen):
    citizen = make_citizen(**ZHANG_WEI)
    rp = register(platform, min_realname_level=3)
    sign_in(client, platform, citizen, level=1)
    url = _to_stepup(client, auth_params(rp, Pkce()))
    html = client.get(url).get_data(as_text=True)
    assert 'id="stepup-counter"' in html and "政务服务大厅" in html
    assert 'name="photo"' not in html
    assert _face(client, url).status_code == 400  # no online factor to post
    back = client.get(url)
    resume = back.get_data(as_text=True).split('href="/authorize/resume?tx=')[1].split('"')[0]
    denied = query(client.get(f"/authorize/resume?tx={resume}").location)
    assert denied["error"] == "access_denied"  # the client's own minimum stays mandatory


def test_failed_face_stays_on_the_page_and_declining_denies(client, platform, make_citizen):
    citizen = make_citizen(**SUN_HAO)
    rp = register(platform, min_realname_level=2)
    sign_in(client, platform, citizen, level=1)
    url = _to_stepup(client, auth_params(rp, Pkce()))
    failed = _face(client, url)
    assert failed.status_code == 401 and "人脸核验未通过" in failed.get_data(as_text=True)
    s = platform.sessions.load(client.get_cookie("idp_sso").value)
    assert s.acr == "urn:idp:acr:realname:1"  # nothing raised
    tx = url.split("tx=")[1]
    assert query(client.get(f"/authorize/resume?tx={tx}").location)["error"] == "access_denied"


def test_fresh_password_login_goes_through_step_up(client, platform, make_citizen):
    citizen = make_citizen(**ZHANG_WEI)
    rp = register(platform, min_realname_level=2)
    login = client.get("/authorize", query_string=auth_params(rp, Pkce()))
    page = client.get(login.location)
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    done = client.post(login.location, data={"csrf_token": csrf, "identifier": citizen.id_number,
                                             "password": citizen.password})
    assert done.status_code == 302 and done.location.startswith("/login/stepup?tx="), page


@pytest.mark.parametrize("url", ["/login/stepup", "/login/stepup?tx=nope", "/login/stepup?tx=" +
                                 "x" * 100])
def test_step_up_without_a_transaction_goes_to_the_account_centre(client, url):
    resp = client.get(url)
    assert resp.status_code == 302 and resp.location.endswith("/account")


def test_step_up_without_session_goes_to_login(client, platform):
    rp = register(platform, min_realname_level=2)
    login = client.get("/authorize", query_string=auth_params(rp, Pkce()))
    tx = login.location.split("tx=")[1]
    resp = client.get(f"/login/stepup?tx={tx}")
    assert resp.status_code == 302 and resp.location.startswith("/login?tx=")


@pytest.mark.parametrize(("current", "required", "account", "id_type", "face", "missing"), [
    (2, 2, 2, "resident_id", True, Missing.NOTHING),
    (1, 2, 1, "resident_id", True, Missing.FACE),
    (1, 2, 1, "resident_id", False, Missing.UNAVAILABLE),
    (1, 2, 1, "passport", True, Missing.UNAVAILABLE),
    (1, 3, 1, "resident_id", True, Missing.COUNTER),
    (2, 3, 2, "hkmo_residence", True, Missing.COUNTER),
    (1, 3, 3, "resident_id", True, Missing.FACE),  # verified at a counter; the login was weak
    (1, 3, 3, "passport", True, Missing.COUNTER),
])
def test_plan_names_the_missing_factor(current, required, account, id_type, face, missing):
    assert plan(current, required, account_level=account, id_type=id_type,
                face_available=face).missing is missing


@pytest.mark.parametrize(("account", "expected"), [(1, 2), (2, 2), (3, 3)])
def test_face_level_rule(account, expected):
    assert face_level(account) == expected
