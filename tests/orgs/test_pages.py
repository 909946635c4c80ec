"""Legal-person pages: open by each method, change of representative, licence download."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from idp.orgs.service import Orgs
from tests.delegation.helpers import days, id_number, phone
from tests.oidc.helpers import sign_in
from tests.orgs.conftest import E01, PNG, elicence_token
from tests.web.conftest import CSRF, with_csrf


def post(client: Any, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
    with_csrf(client)
    return client.post(url, data={"csrf_token": CSRF, **(data or {})}, **kw)


def confirm(client: Any, resp: Any, accept: bool = True) -> Any:
    assert resp.status_code == 302, resp.get_data(as_text=True)
    page = client.get(resp.headers["Location"])
    assert E01["name"] in page.get_data(as_text=True)
    version = re.search(r'name="version" value="([^"]+)"', page.get_data(as_text=True))
    assert version
    data = {"version": version.group(1), **({"accept": "yes"} if accept else {})}
    return post(client, resp.headers["Location"], data)


def test_signed_out_goes_to_login(client) -> None:  # type: ignore[no-untyped-def]
    for url in ("/org", "/org/verify/registry", f"/org/{E01['code']}"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_open_by_registry_page(client, platform, liu) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, platform, liu)
    assert "法定代表人激活" in client.get("/org").get_data(as_text=True)
    verified = post(client, "/org/verify/registry", {"credit_code": E01["code"].lower()})
    unchecked = confirm(client, verified, accept=False)
    assert unchecked.status_code == 400
    done = confirm(client, verified)
    assert done.status_code == 302 and done.headers["Location"].endswith("done=opened")
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert E01["name"] in page and "法人账户已开通" in page


def test_registry_refusal_is_shown_in_english(client, platform, liu) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, platform, liu)
    resp = post(client, "/org/verify/registry?lang=en", {"credit_code": "91110101MA01BC238T"})
    assert resp.status_code == 403
    assert "does not list you as the legal representative" in resp.get_data(as_text=True)


def test_licence_upload_and_attachment_download(client, platform, liu, zhang) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, platform, liu)
    verified = post(client, "/org/verify/licence", {
        "credit_code": E01["code"], "name": E01["name"], "representative": "刘洋",
        "image": (io.BytesIO(PNG), "licence.html", "text/html")},
        content_type="multipart/form-data")
    done = confirm(client, verified)
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    link = re.search(r'href="(/org/[^"]+/licence/[^"]+)"', page)
    assert link
    got = client.get(link.group(1))
    assert got.status_code == 200 and got.data == PNG
    assert got.mimetype == "image/png"  # by content, not the uploaded name or type
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in got.headers["Content-Security-Policy"]
    sign_in(client, platform, zhang)  # not the representative: nothing to see
    assert client.get(link.group(1)).status_code == 404
    assert client.get(f"/org/{E01['code']}").status_code == 404


@pytest.mark.parametrize(("upload", "status", "text"), [
    ((b"<html><script>alert(1)</script></html>" * 5, "x.png", "image/png"), 422, "JPG、PNG 或 PDF"),
    ((b"\x89PNG\r\n\x1a\n" + b"\0" * (3 * 1024 * 1024), "x.png", "image/png"), 413, ""),
    (None, 422, "请上传营业执照图片"),
])
def test_licence_upload_refusals(client, platform, liu, upload, status, text) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, platform, liu)
    data: dict[str, Any] = {"credit_code": E01["code"], "name": E01["name"],
                            "representative": "刘洋"}
    if upload:
        data["image"] = (io.BytesIO(upload[0]), upload[1], upload[2])
    resp = post(client, "/org/verify/licence", data, content_type="multipart/form-data")
    assert resp.status_code == status
    assert text in resp.get_data(as_text=True)
    with platform.db.session() as db:
        assert Orgs(db).by_code(E01["code"]) is None


def test_elicence_page(client, platform, liu, issuer_key) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, platform, liu)
    verified = post(client, "/org/verify/elicence", {"licence": elicence_token(issuer_key)})
    assert confirm(client, verified).status_code == 302


def test_certificate_page_with_textarea_signature(client, platform, liu, pki) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, platform, liu)
    page = client.get("/org/verify/certificate").get_data(as_text=True)
    challenge = re.search(r'name="challenge" value="([^"]+)"', page)
    assert challenge
    leaf = pki.leaf(E01["code"])
    verified = post(client, "/org/verify/certificate", {
        "chain": pki.chain(leaf), "challenge": challenge.group(1),
        "signature": leaf.sign(challenge.group(1))})
    assert confirm(client, verified).status_code == 302
    with platform.db.session() as db:
        assert Orgs(db).by_code(E01["code"]).opened_by == "ca_certificate"  # type: ignore[union-attr]


def test_change_of_representative_page(client, platform, liu, zhang, make_citizen) -> None:  # type: ignore[no-untyped-def]
    from idp.delegation.service import Delegation

    staff = make_citizen(id_number=id_number(8), phone=phone(8), name="员工")
    with platform.db.session() as db:
        org = Orgs(db).open_account(credit_code=E01["code"], name=E01["name"],
                                    kind="enterprise", representative_person_id=zhang.person_id,
                                    opened_by="counter", actor="test")
        Delegation.from_platform(db, platform).grant(
            zhang.person_id, org.id, staff.person_id, [("dept-a", "*")], days(90))
    sign_in(client, platform, liu)
    verified = post(client, "/org/verify/registry", {"credit_code": E01["code"]})
    page = client.get(verified.headers["Location"]).get_data(as_text=True)
    assert "同意并变更法定代表人" in page
    done = confirm(client, verified)
    assert done.headers["Location"].endswith("done=changed")
    detail = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "待确认的原有授权" in detail and "dept-a/*" in detail
    assert f"/account/orgs/{E01['code']}" in detail


def test_unknown_method_and_evidence(client, platform, liu) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, platform, liu)
    assert client.get("/org/verify/fax").status_code == 404
    assert client.get("/org/confirm/nope").status_code == 404
