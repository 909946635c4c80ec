"""Enterprise certificate sign-in (R-23, amr x509) without nginx: the service as a table of
certificates and proxies, and the page through the Flask test client (the proxy's peer
address set in the WSGI environ). tests/orgs/test_x509_login_nginx.py runs a real nginx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, update

from idp.accounts.models import Person
from idp.accounts.sessions import COOKIE_NAME
from idp.audit.models import AuditRecord
from idp.orgs.models import LegalPerson
from idp.orgs.x509_login import CertificateLogin, X509LoginError
from idp.settings import Settings, SettingsError
from tests.orgs.conftest import E01, Files
from tests.orgs.pki import Issued, Pki
from tests.orgs.x509_helpers import (
    HEADER,
    SECRET,
    certificates,
    escaped,
    open_enterprise,
    x509_settings,
)
from tests.web.conftest import CSRF, with_csrf

PROXY = "10.9.0.7"
ELSEWHERE = "203.0.113.9"
PAGE = "/login/certificate"
SECRET_HEADER, VERIFY_HEADER = "X-Client-Cert-Proxy-Secret", "X-Client-Cert-Verify"
FROM_VHOST = {SECRET_HEADER: SECRET, VERIFY_HEADER: "FAILED:unable to verify the first certificate"}


@pytest.fixture
def extra() -> dict[str, Any]:
    """Settings a test changes (parametrize ``extra``)."""
    return {}


@pytest.fixture
def settings_overrides(pki: Pki, files: Files, extra: dict[str, Any]) -> dict[str, Any]:
    return {**x509_settings(pki, files, proxies="10.9.0.0/24 2001:db8::/64"), **extra}


@pytest.fixture(scope="module")
def certs(pki: Pki) -> dict[str, Issued]:
    return certificates(pki)


@pytest.fixture
def enterprise(platform, make_citizen, files: Files, pki: Pki, certs):  # type: ignore[no-untyped-def]
    rep = make_citizen(name="刘洋", id_number="350203198806300157", phone="13800138004",
                       realname_level=2)
    files.set_revoked(pki, [certs["revoked"].cert])
    return rep, open_enterprise(platform, rep.person_id)


def check(platform, header: str | None, peer: str = PROXY, secret: str | None = SECRET,  # type: ignore[no-untyped-def]
          verify: str | None = "SUCCESS", **kw: Any) -> Any:
    with platform.db.session() as db:
        service = CertificateLogin(db, platform.settings, platform.limiter, peer=peer,
                                   address="198.51.100.1", **kw)
        try:
            found = service.check(header, proxy_secret=secret, client_verify=verify)
        except X509LoginError as exc:
            error = exc  # the refusal's audit commits with the caller's transaction
        else:
            return found.person.id, found.legal_person.credit_code
    raise error


def audits(platform) -> list[AuditRecord]:  # type: ignore[no-untyped-def]
    with platform.db.session() as db:
        return list(db.scalars(select(AuditRecord).where(
            AuditRecord.action.like("account:login:%")).order_by(AuditRecord.seq)))


# -- the service ----------------------------------------------------------------------------------

def test_good_certificate_identifies_representative_and_enterprise(platform, enterprise, certs):  # type: ignore[no-untyped-def]
    rep, _ = enterprise
    assert check(platform, escaped(certs["good"])) == (rep.person_id, E01["code"])
    assert check(platform, certs["good"].pem, peer="2001:db8::5")[1] == E01["code"], \
        "unescaped PEM and an IPv6 proxy work too"


@pytest.mark.parametrize(("case", "code", "status"), [
    ("expired", "expired", 401),
    ("revoked", "revoked", 401),
    ("wrong_ca", "untrusted", 401),
    ("wrong_key_usage", "wrong_key_usage", 401),
    ("server_only", "wrong_key_usage", 401),
    ("non_repudiation_only", "wrong_key_usage", 401),
    ("document_signing_only", "wrong_key_usage", 401),
    ("unknown_org", "unknown_org", 401),
])
def test_refused_certificates(platform, enterprise, certs, case, code, status):  # type: ignore[no-untyped-def]
    with pytest.raises(X509LoginError) as err:
        check(platform, escaped(certs[case]))
    assert (err.value.code, err.value.status) == (code, status)
    assert err.value.messages["zh"] and err.value.messages["en"]


@pytest.mark.parametrize(("header", "peer", "code"), [
    pytest.param(None, PROXY, "no_certificate", id="no-certificate"),
    pytest.param("", PROXY, "no_certificate", id="empty-header"),
    pytest.param("not a certificate", PROXY, "invalid_chain", id="garbage"),
    pytest.param("%ZZ-----BEGIN CERTIFICATE-----", PROXY, "invalid_chain", id="bad-escape"),
    pytest.param("x" * 20000, PROXY, "invalid_chain", id="oversized"),
    pytest.param("good", ELSEWHERE, "untrusted_proxy", id="forged-by-a-client"),
    pytest.param("good", "10.9.1.7", "untrusted_proxy", id="neighbouring-network"),
    pytest.param("good", "unix-socket", "untrusted_proxy", id="no-ip-peer"),
])
def test_refused_requests(platform, enterprise, certs, header, peer, code):  # type: ignore[no-untyped-def]
    if header == "good":
        header = escaped(certs["good"])
    with pytest.raises(X509LoginError) as err:
        check(platform, header, peer)
    assert err.value.code == code


@pytest.mark.parametrize(("secret", "verify", "code"), [
    # The main vhost proxies from the same trusted address: without the certificate vhost's
    # secret a header is as untrusted as one sent straight to the platform.
    pytest.param(None, "SUCCESS", "untrusted_proxy", id="no-secret"),
    pytest.param("", "SUCCESS", "untrusted_proxy", id="empty-secret"),
    pytest.param(SECRET[:-1] + "X", "SUCCESS", "untrusted_proxy", id="wrong-secret"),
    pytest.param(SECRET + "x", "SUCCESS", "untrusted_proxy", id="longer-secret"),
    pytest.param("repeated", "SUCCESS", "untrusted_proxy", id="two-secret-headers"),
    pytest.param("密钥", "SUCCESS", "untrusted_proxy", id="non-ascii-secret"),
    # nginx saw no certificate in the handshake, yet a certificate header arrived.
    pytest.param(SECRET, None, "no_handshake", id="no-verify-header"),
    pytest.param(SECRET, "NONE", "no_handshake", id="verify-none"),
    pytest.param(SECRET, "", "no_handshake", id="verify-empty"),
    pytest.param(SECRET, "success", "no_handshake", id="verify-lowercase"),
])
def test_certificate_header_needs_the_certificate_vhost(platform, enterprise, certs, secret,  # type: ignore[no-untyped-def]
                                                        verify, code):
    with pytest.raises(X509LoginError) as err:
        check(platform, escaped(certs["good"]), secret=secret, verify=verify)
    assert (err.value.code, err.value.status) == (code, 403)


@pytest.mark.parametrize("verify", ["SUCCESS", "FAILED:certificate has expired",
                                    "FAILED:unable to get local issuer certificate"])
def test_handshake_verdicts_nginx_sends(platform, enterprise, certs, verify):  # type: ignore[no-untyped-def]
    """optional_no_ca: whatever nginx thought, the platform decides (expired stays expired)."""
    assert check(platform, escaped(certs["good"]), verify=verify)[1] == E01["code"]
    with pytest.raises(X509LoginError) as err:
        check(platform, escaped(certs["expired"]), verify=verify)
    assert err.value.code == "expired"


@pytest.mark.parametrize(("secret", "ok"), [
    ("", False), ("short-secret", False), ("x" * 31, False), ("x" * 32, True)])
def test_proxy_secret_required_with_proxies(secret, ok):  # type: ignore[no-untyped-def]
    settings = Settings(x509_proxies="10.0.0.1", x509_proxy_secret=secret, testing=True)
    if ok:
        settings.check()
        return
    with pytest.raises(SettingsError, match="IDP_X509_PROXY_SECRET"):
        settings.check()
    Settings(x509_proxies="", x509_proxy_secret=secret, testing=True).check()  # feature off


def test_two_certificates_in_the_header_refused(platform, enterprise, certs, pki):  # type: ignore[no-untyped-def]
    with pytest.raises(X509LoginError) as err:
        check(platform, certs["good"].pem + pki.intermediate.pem)
    assert err.value.code == "invalid_chain"


@pytest.mark.parametrize(("change", "code"), [
    pytest.param("org", "org_inactive", id="enterprise-suspended"),
    pytest.param("rep", "representative_unavailable", id="representative-banned"),
])
def test_inactive_enterprise_or_representative_refused(platform, enterprise, certs, change,  # type: ignore[no-untyped-def]
                                                       code):
    rep, org_id = enterprise
    with platform.db.session() as db:
        if change == "org":
            db.execute(update(LegalPerson).where(LegalPerson.id == org_id)
                       .values(status="suspended"))
        else:
            db.execute(update(Person).where(Person.id == rep.person_id).values(status="banned"))
    with pytest.raises(X509LoginError) as err:
        check(platform, escaped(certs["good"]))
    assert err.value.code == code


def test_crl_unavailable_fails_closed(platform, enterprise, certs, files):  # type: ignore[no-untyped-def]
    (files.crl_dir / "1.crl").unlink()
    with pytest.raises(X509LoginError) as err:
        check(platform, escaped(certs["good"]))
    assert (err.value.code, err.value.status) == ("crl_unavailable", 503)


@pytest.mark.parametrize("extra", [{"x509_proxies": ""}])
def test_off_by_default(platform, certs):  # type: ignore[no-untyped-def]
    assert Settings().x509_proxies == ""
    with pytest.raises(X509LoginError) as err:
        check(platform, escaped(certs["good"]))
    assert (err.value.code, err.value.status) == ("not_enabled", 404)


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.example", "10.0.0.1/8 nonsense"])
def test_bad_proxy_setting_refused_at_start(value):  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError, match="IDP_X509_PROXIES"):
        Settings(x509_proxies=value, testing=True).check()


def test_failures_throttled_per_address_and_audited(platform, enterprise, certs):  # type: ignore[no-untyped-def]
    for _ in range(5):
        with pytest.raises(X509LoginError):
            check(platform, escaped(certs["expired"]))
    with pytest.raises(X509LoginError) as err:
        check(platform, escaped(certs["good"]))
    assert err.value.code == "throttled" and err.value.status == 429 and err.value.retry_in > 0
    events = audits(platform)
    assert [e.outcome for e in events] == ["failure"] * 5 + ["throttled"]
    details = events[0].details
    assert details["method"] == "x509" and details["reason"] == "expired"
    assert details["serial"] == format(certs["expired"].cert.serial_number, "x")
    assert "Issuing CA" in details["issuer"]
    text = json.dumps([e.details for e in events], ensure_ascii=False)
    assert E01["code"] not in text and E01["name"] not in text, "no subject in the audit"


# -- the page -------------------------------------------------------------------------------------

def page(client, cert: Issued | None = None, peer: str = PROXY, method: str = "get",  # type: ignore[no-untyped-def]
         **kw: Any):
    headers = {**FROM_VHOST, **({HEADER: escaped(cert)} if cert is not None else {})}
    if method == "post":
        with_csrf(client)
        kw.setdefault("data", {"csrf_token": CSRF})
    return getattr(client, method)(PAGE, headers=headers, environ_base={"REMOTE_ADDR": peer},
                                   **kw)


def test_login_page_offers_the_certificate(client):  # type: ignore[no-untyped-def]
    html = client.get("/login").get_data(as_text=True)
    assert 'id="x509-login"' in html and "使用企业证书登录" in html
    assert "Sign in with enterprise certificate" in client.get(
        "/login", headers={"Accept-Language": "en"}).get_data(as_text=True)


@pytest.mark.parametrize("extra", [{"x509_proxies": ""}])
def test_login_page_without_the_feature(client):  # type: ignore[no-untyped-def]
    assert 'id="x509-login"' not in client.get("/login").get_data(as_text=True)
    assert client.get(PAGE).status_code == 404


def test_sign_in_with_certificate(client, platform, enterprise, certs):  # type: ignore[no-untyped-def]
    rep, _ = enterprise
    shown = page(client, certs["good"])
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and E01["name"] in html and "刘*" in html
    assert page(client, certs["good"], method="post").status_code == 302
    s = platform.sessions.load(client.get_cookie(COOKIE_NAME).value)
    assert s is not None and s.person_id == rep.person_id
    assert s.amr == ["x509"] and s.acr.endswith(":2"), "the representative's real-name level"
    assert s.acting_for == E01["code"]
    assert [e.outcome for e in audits(platform)] == ["success"]


@pytest.mark.parametrize(("level", "acr_level"), [(1, 1), (2, 2), (3, 2)])
def test_certificate_session_is_at_most_level_2(client, platform, enterprise, certs, level,  # type: ignore[no-untyped-def]
                                                acr_level):
    """The certificate proves the organisation, not who holds its key: a representative
    verified at the counter (level 3) still signs in at level 2 with it."""
    rep, _ = enterprise
    with platform.db.session() as db:
        db.execute(update(Person).where(Person.id == rep.person_id).values(realname_level=level))
    assert page(client, certs["good"], method="post").status_code == 302
    s = platform.sessions.load(client.get_cookie(COOKIE_NAME).value)
    assert s is not None and s.acr.endswith(f":{acr_level}") and s.amr == ["x509"]


def test_sign_in_needs_csrf(client, platform, enterprise, certs):  # type: ignore[no-untyped-def]
    resp = client.post(PAGE, headers={HEADER: escaped(certs["good"]), **FROM_VHOST},
                       environ_base={"REMOTE_ADDR": PROXY})
    assert resp.status_code == 400 and client.get_cookie(COOKIE_NAME) is None


@pytest.mark.parametrize(("case", "peer", "status", "text"), [
    ("expired", PROXY, 401, "证书已过期"),
    ("revoked", PROXY, 401, "证书已被吊销"),
    ("wrong_ca", PROXY, 401, "不是由平台认可的 CA 签发"),
    ("wrong_key_usage", PROXY, 401, "证书用途不允许"),
    (None, PROXY, 401, "未收到企业证书"),
    ("good", ELSEWHERE, 403, "请通过平台的证书登录地址访问"),
])
@pytest.mark.parametrize("method", ["get", "post"])
def test_refused_with_a_clear_page(client, enterprise, certs, case, peer, status, text,  # type: ignore[no-untyped-def]
                                   method):
    resp = page(client, certs.get(case), peer, method=method)
    assert resp.status_code == status
    html = resp.get_data(as_text=True)
    assert text in html and "使用其他方式登录" in html and "Traceback" not in html
    assert client.get_cookie(COOKIE_NAME) is None


def test_refusal_in_english(client, enterprise, certs):  # type: ignore[no-untyped-def]
    resp = client.get(
        PAGE, headers={HEADER: escaped(certs["revoked"]), "Accept-Language": "en",
                       **FROM_VHOST},
        environ_base={"REMOTE_ADDR": PROXY})
    assert "The certificate has been revoked" in resp.get_data(as_text=True)


@pytest.mark.parametrize("extra", [{"proxy_fix": 1}])
def test_behind_proxy_fix_the_peer_is_trusted_and_the_client_counted(  # type: ignore[no-untyped-def]
        client, platform, enterprise, certs):
    """X-Forwarded-For names the client for limits and audit; the proxy must be the peer."""
    forwarded = {"X-Forwarded-For": "198.51.100.77"}
    resp = client.get(PAGE, headers={HEADER: escaped(certs["good"]), **forwarded,
                                     **FROM_VHOST},
                      environ_base={"REMOTE_ADDR": PROXY})
    assert resp.status_code == 200
    forged = client.get(PAGE, headers={HEADER: escaped(certs["good"]), **FROM_VHOST,
                                       "X-Forwarded-For": PROXY},
                        environ_base={"REMOTE_ADDR": ELSEWHERE})
    assert forged.status_code == 403, "X-Forwarded-For cannot make a client a proxy"
    assert audits(platform)[-1].address == PROXY  # what ProxyFix made of the forged header
