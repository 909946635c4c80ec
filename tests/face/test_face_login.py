"""Face login 刷脸登录 (R-33): match, mismatch, liveness, service down, bad uploads."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from idp.accounts.sessions import COOKIE_NAME
from idp.audit.models import AuditRecord
from tests.face.conftest import GUO_MIN, JPEG, PNG, SUN_HAO, ZHANG_WEI, ZHU_LIN, csrf_of


def _post(browser, id_number, files=None, **query):  # type: ignore[no-untyped-def]
    data = {"csrf_token": csrf_of(browser), "id_number": id_number}
    for name, content, filename in files if files is not None else [("photo", JPEG, "me.jpg")]:
        data.setdefault(name, [])
        data[name].append((io.BytesIO(content), filename))
    return browser.post("/login/face", data=data, query_string=query,
                        content_type="multipart/form-data")


def _sso(platform, browser):  # type: ignore[no-untyped-def]
    cookie = browser.get_cookie(COOKIE_NAME)
    return platform.sessions.load(cookie.value) if cookie else None


def test_face_page_offers_camera_capture(client):
    html = client.get("/login/face").get_data(as_text=True)
    assert 'capture="user"' in html and 'enctype="multipart/form-data"' in html


@pytest.mark.parametrize(("image", "filename"), [(JPEG, "me.jpg"), (PNG, "me.png")])
def test_match_signs_in_at_level_two(client, platform, make_citizen, image, filename):
    person = make_citizen(**ZHANG_WEI, realname_level=1)
    resp = _post(client, ZHANG_WEI["id_number"], [("photo", image, filename)])
    assert resp.status_code == 302 and resp.location.endswith("/account")
    s = _sso(platform, client)
    assert s.person_id == person.person_id and s.amr == ["face"]
    assert s.acr == "urn:idp:acr:realname:2"
    with platform.db.session() as db:
        from idp.accounts.models import Person

        assert db.get(Person, person.person_id).realname_level == 1  # stored level unchanged
        event = db.scalars(select(AuditRecord).where(
            AuditRecord.action == "account:login:success")).one()
        assert event.details["identifier"] == "1101**********0017"
        assert event.details["face_ref"].startswith("SIM-")
        assert ZHANG_WEI["id_number"] not in str(event.details)


def test_level_three_account_keeps_level_three(client, platform, make_citizen):
    make_citizen(**ZHANG_WEI, realname_level=3)
    _post(client, ZHANG_WEI["id_number"])
    assert _sso(platform, client).acr == "urn:idp:acr:realname:3"


@pytest.mark.parametrize(("person", "status", "message"), [
    (SUN_HAO, 401, "人脸核验未通过"),
    (ZHU_LIN, 401, "活体检测未通过"),
    (GUO_MIN, 503, "人脸核验服务暂时不可用"),
])
def test_failures_say_why_and_do_not_sign_in(client, platform, make_citizen, person, status,
                                             message):
    make_citizen(**person)
    resp = _post(client, person["id_number"])
    assert resp.status_code == status
    html = resp.get_data(as_text=True)
    assert message in html
    if status == 503:
        assert 'href="/login/qr"' in html and 'href="/login/sms"' in html  # other methods
    assert _sso(platform, client) is None


def test_unknown_document_gets_the_mismatch_answer(client, platform):
    resp = _post(client, "110101198503120017")
    assert resp.status_code == 401 and "人脸核验未通过" in resp.get_data(as_text=True)


def test_marker_spoof_in_image_fails_liveness(client, make_citizen):
    make_citizen(**ZHANG_WEI)
    resp = _post(client, ZHANG_WEI["id_number"], [("photo", JPEG + b"SIM-FACE:spoof", "x.jpg")])
    assert resp.status_code == 401 and "活体检测未通过" in resp.get_data(as_text=True)


@pytest.mark.parametrize(("id_number", "files", "status"), [
    ("", None, 400),
    ("x" * 65, None, 400),
    ("110101198503120017", [], 400),
    ("110101198503120017", [("photo", b"", "empty.jpg")], 400),
    ("110101198503120017", [("photo", b"GIF89a" + b"\x00" * 64, "a.gif")], 400),
    ("110101198503120017", [("photo", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "a.jpg")],
     400),
    ("110101198503120017", [("photo", b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024), "big.jpg")],
     400),
    ("110101198503120017", [("photo", JPEG, "a.jpg"), ("photo", JPEG, "b.jpg")], 400),
    ("110101198503120017", [("picture", JPEG, "a.jpg")], 400),
])
def test_bad_uploads_are_refused_clearly(client, platform, make_citizen, id_number, files,
                                         status):
    make_citizen(**ZHANG_WEI)
    resp = _post(client, id_number, files)
    assert resp.status_code == status
    assert 'class="alert alert-error"' in resp.get_data(as_text=True)
    assert _sso(platform, client) is None


def test_body_beyond_the_limit_is_413_not_500(client, make_citizen):
    make_citizen(**ZHANG_WEI)
    resp = _post(client, ZHANG_WEI["id_number"],
                 [("photo", b"\xff\xd8\xff" + b"\x00" * (3 * 1024 * 1024), "huge.jpg")])
    assert resp.status_code == 413


def test_failures_are_limited_per_document(client, platform, make_citizen):
    make_citizen(**SUN_HAO)
    for _ in range(3):
        assert _post(client, SUN_HAO["id_number"]).status_code == 401
    resp = _post(client, SUN_HAO["id_number"])
    assert resp.status_code == 429
    with platform.db.session() as db:
        reasons = [e.details.get("reason") for e in db.scalars(select(AuditRecord).where(
            AuditRecord.action == "account:login:failure").order_by(AuditRecord.seq))]
        assert reasons == ["no_match", "no_match", "no_match", "throttled"]


def test_banned_account_with_matching_face_is_refused(client, platform, make_citizen):
    from idp.accounts.models import Person

    person = make_citizen(**ZHANG_WEI)
    with platform.db.session() as db:
        db.get(Person, person.person_id).status = "banned"
    resp = _post(client, ZHANG_WEI["id_number"])
    assert resp.status_code == 403 and _sso(platform, client) is None


def test_passport_holder_is_told_face_is_unsupported(client, make_citizen):
    make_citizen(id_type="passport", id_number="E12345678", name="Tom", phone="13800138099")
    resp = _post(client, "E12345678")
    assert resp.status_code == 400 and "暂不支持刷脸登录" in resp.get_data(as_text=True)
