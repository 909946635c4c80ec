"""Registration pages with the Flask client against the simulator (R-10; CSRF; zh/en)."""

from __future__ import annotations

import pytest

from tests.registration.conftest import P01, P03, P10_DECEASED, PASSWORD, persons
from tests.web.conftest import last_code, make_tx, post, sso_cookie


def start(client, person: dict, **extra: str):  # type: ignore[no-untyped-def]
    return post(client, "/register", {"name": person["name"], "id_type": person["id_type"],
                                      "id_number": person["id_number"], **extra})


def verified_two(client, person: dict) -> None:  # type: ignore[no-untyped-def]
    assert start(client, person).status_code == 302
    for factor, data in (("social_security", {"card_number": person["social"]}),
                         ("provident_fund", {"account_number": person["fund"]})):
        resp = post(client, f"/register/verify/{factor}", data)
        assert resp.status_code == 302, resp.get_data(as_text=True)


def test_pages_register_and_sign_in(client, platform) -> None:
    resp = start(client, P01)
    assert resp.headers["Location"].endswith("/register/verify")
    page = client.get("/register/verify").get_data(as_text=True)
    assert "核验身份" in page and "<script" not in page and "style=" not in page
    resp = post(client, "/register/verify/phone", {"phone": P01["phone"]})
    assert resp.status_code == 200 and "138****8001" in resp.get_data(as_text=True)
    resp = post(client, "/register/verify/phone/confirm",
                {"code": last_code(platform, P01["phone"])})
    assert resp.status_code == 302
    assert post(client, "/register/verify/bank_card", {
        "card_number": P01["bank"], "phone": P01["phone"]}).status_code == 302
    assert post(client, "/register/password", {
        "new_password": PASSWORD, "confirm_password": PASSWORD}).status_code == 302
    assert persons(platform) == 0
    resp = post(client, "/register/agreement", {"accept": "yes", "version": "2024-01"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/account")
    assert sso_cookie(client) is not None
    assert "二级" in client.get("/account").get_data(as_text=True)


def test_registration_returns_to_the_waiting_client(client, platform) -> None:
    tx = make_tx(platform)
    assert start_with_tx(client, tx.id).status_code == 302
    for factor, data in (("social_security", {"card_number": P03["social"]}),
                         ("driving_licence", {"file_number": P03["licence"]})):
        post(client, f"/register/verify/{factor}", data)
    post(client, "/register/password", {"new_password": PASSWORD, "confirm_password": PASSWORD})
    resp = post(client, "/register/agreement", {"accept": "yes", "version": "2024-01"})
    assert f"/authorize/resume?tx={tx.id}" in resp.headers["Location"]


def start_with_tx(client, tx_id: str):  # type: ignore[no-untyped-def]
    return post(client, f"/register?tx={tx_id}", {
        "name": P03["name"], "id_type": "resident_id", "id_number": P03["id_number"]})


@pytest.mark.parametrize(("form", "status", "text"), [
    ({"name": "", "id_type": "resident_id", "id_number": P01["id_number"]}, 422, "请输入姓名"),
    ({"name": "张伟", "id_type": "passport", "id_number": "E12345678"}, 422, "政务服务大厅"),
    ({"name": "张伟", "id_type": "resident_id", "id_number": "110101198503120018"}, 422,
     "校验"),
    ({"name": "张伟", "id_type": "resident_id", "id_number": ""}, 422, "请输入证件号码"),
    ({"name": "张伟", "id_type": "resident_id", "id_number": "1" * 65}, 422, "格式"),
    ({"name": "李四", "id_type": "resident_id", "id_number": P01["id_number"]}, 422, "不匹配"),
    ({"name": P10_DECEASED["name"], "id_type": "resident_id",
      "id_number": P10_DECEASED["id_number"]}, 403, "无法使用该身份信息注册"),
])
def test_start_page_bad_input(client, platform, form, status, text) -> None:
    resp = post(client, "/register", form)
    body = resp.get_data(as_text=True)
    assert resp.status_code == status, body
    assert text in body
    assert persons(platform) == 0


def test_forms_need_csrf(client) -> None:
    resp = client.post("/register", data={"name": "张伟", "id_type": "resident_id",
                                          "id_number": P01["id_number"]})
    assert resp.status_code == 400


def test_registered_number_offers_recovery_only(client, make_citizen) -> None:
    make_citizen(id_number=P01["id_number"], name=P01["name"], phone=P01["phone"])
    body = start(client, P01).get_data(as_text=True)
    assert "该证件号码已注册" in body and 'href="/password/forgot"' in body
    assert "8001" not in body and "张*" not in body


def test_authority_down_page_names_the_check_and_keeps_progress(client, platform,
                                                               simulator) -> None:
    verified_two(client, P01)
    simulator.sim.modes.set("bank", "down")
    resp = post(client, "/register/verify/bank_card", {"card_number": P01["bank"],
                                                        "phone": P01["phone"]})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 503
    assert "暂时无法完成银行卡核验" in body
    assert body.count("已核验") == 2 and 'id="to-password"' in body
    assert persons(platform) == 0


def test_english_page_names_the_check(client, simulator) -> None:
    verified_two(client, P01)
    simulator.sim.modes.set("bank", "slow")
    resp = post(client, "/register/verify/bank_card?lang=en",
                {"card_number": P01["bank"], "phone": P01["phone"]})
    assert "bank card check cannot be done" in resp.get_data(as_text=True)


@pytest.mark.parametrize(("form", "text"), [
    ({"new_password": "short", "confirm_password": "short"}, "至少 8 位"),
    ({"new_password": PASSWORD, "confirm_password": PASSWORD + "x"}, "不一致"),
    ({"new_password": "", "confirm_password": ""}, "请设置密码"),
])
def test_password_page_bad_input(client, form, text) -> None:
    verified_two(client, P01)
    resp = post(client, "/register/password", form)
    assert resp.status_code == 422 and text in resp.get_data(as_text=True)


@pytest.mark.parametrize(("form", "text"), [
    ({"version": "2024-01"}, "请阅读并勾选"),
    ({"accept": "yes", "version": "2000-01"}, "服务协议已更新"),
])
def test_agreement_page_requires_consent_to_the_current_version(client, platform, form,
                                                                text) -> None:
    verified_two(client, P01)
    post(client, "/register/password", {"new_password": PASSWORD, "confirm_password": PASSWORD})
    resp = post(client, "/register/agreement", form)
    assert text in resp.get_data(as_text=True)
    assert persons(platform) == 0


def test_steps_without_a_registration_go_back_to_the_start(client) -> None:
    for url in ("/register/verify", "/register/password", "/register/agreement"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/register")


def test_register_page_in_english_and_linked_from_login(client) -> None:
    body = client.get("/register?lang=en").get_data(as_text=True)
    assert "Real-name registration" in body and "Register with a trusted platform" in body
    assert 'id="register-link"' in client.get("/login").get_data(as_text=True)
