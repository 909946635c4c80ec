"""Enterprise certificate sign-in through a real nginx doing mTLS (R-23, amr x509; issue 4
item 2d): the shipped deploy/idp-x509-login.conf in front of the platform as a live server,
with certificates from a test CA made here. nginx is the only trusted proxy (127.0.0.2)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from idp.accounts.sessions import COOKIE_NAME
from idp.serve import free_port
from tests.e2e.stack import forms_of
from tests.gateway.stack import NGINX, ROOT
from tests.live import serving
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
from tests.orgs.x509_nginx import PROXY_ADDRESS, MtlsSite, main_site, mtls_site

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(),
                                reason="nginx is not installed (scripts/services.sh installs it)")

PORT = free_port()
PAGE = "/login/certificate"


@pytest.fixture
def settings_overrides(pki: Pki, files: Files) -> dict[str, Any]:
    return {**x509_settings(pki, files, proxies=f"{PROXY_ADDRESS}/32"), "proxy_fix": 1,
            "issuer": f"http://127.0.0.1:{PORT}"}


@pytest.fixture(scope="module")
def certs(pki: Pki) -> dict[str, Issued]:
    return certificates(pki)


@pytest.fixture(params=["platform-verifies", "nginx-verifies-too"])
def site(request, app, platform, make_citizen, files: Files, pki: Pki,  # type: ignore[no-untyped-def]
         certs) -> Iterator[MtlsSite]:
    """Without and with nginx's own CA list (``ssl_client_certificate``, optional)."""
    rep = make_citizen(name="刘洋", id_number="350203198806300157", phone="13800138004",
                       realname_level=2)
    open_enterprise(platform, rep.person_id)
    files.set_revoked(pki, [certs["revoked"].cert])
    cas = pki.root.pem + pki.intermediate.pem if request.param == "nginx-verifies-too" else ""
    with serving(app, PORT), mtls_site(PORT, cas) as running:
        running.rep = rep  # type: ignore[attr-defined]
        yield running


def browser(site: MtlsSite, tmp_path: Path, cert: Issued | None) -> requests.Session:
    """A browser that trusts nginx and presents ``cert`` when asked."""
    b = requests.Session()
    b.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides ``verify``
    b.verify = str(site.ca_file)
    if cert is not None:
        (tmp_path / "client.pem").write_text(cert.pem)
        (tmp_path / "client.key").write_bytes(cert.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        b.cert = (str(tmp_path / "client.pem"), str(tmp_path / "client.key"))
    return b


def test_good_certificate_signs_in_as_representative(site: MtlsSite, platform, tmp_path,  # type: ignore[no-untyped-def]
                                                     certs) -> None:
    b = browser(site, tmp_path, certs["good"])
    page = b.get(site.url + PAGE, timeout=20)
    assert page.status_code == 200, site.error_log()
    assert E01["name"] in page.text and "刘*" in page.text
    form = next(f for f in forms_of(page.text) if f.method == "post")
    done = b.post(site.url + form.action, data=form.fields, allow_redirects=False, timeout=20)
    assert done.status_code == 302
    sid = b.cookies.get(COOKIE_NAME)
    s = platform.sessions.load(sid)
    assert s is not None and s.person_id == site.rep.person_id  # type: ignore[attr-defined]
    assert s.amr == ["x509"] and s.acr.endswith(":2") and s.acting_for == E01["code"]
    # The SSO cookie works on the platform itself (the main server), for the enterprise only:
    # the personal account centre wants a personal sign-in.
    main = requests.Session()
    main.cookies.set(COOKIE_NAME, sid)
    org = main.get(f"http://127.0.0.1:{PORT}/account/orgs/{E01['code']}",
                   allow_redirects=False, timeout=20)
    assert org.status_code == 200
    account = main.get(f"http://127.0.0.1:{PORT}/account", allow_redirects=False, timeout=20)
    assert account.status_code == 302 and "/login?personal=" in account.headers["Location"]


@pytest.mark.parametrize(("case", "status", "text"), [
    ("expired", 401, "证书已过期或尚未生效"),
    ("revoked", 401, "证书已被吊销"),
    ("wrong_ca", 401, "证书不是由平台认可的 CA 签发"),
    ("wrong_key_usage", 401, "证书用途不允许用于身份认证或签名"),
    (None, 401, "未收到企业证书"),
])
def test_refused_certificates_get_a_clear_page(site: MtlsSite, tmp_path, certs, case, status,  # type: ignore[no-untyped-def]
                                               text) -> None:
    b = browser(site, tmp_path, certs.get(case))
    page = b.get(site.url + PAGE, timeout=20)
    assert page.status_code == status, site.error_log()
    assert text in page.text and "使用其他方式登录" in page.text
    assert COOKIE_NAME not in b.cookies


def test_header_sent_by_a_client_through_nginx_is_replaced(site: MtlsSite, tmp_path,  # type: ignore[no-untyped-def]
                                                          certs) -> None:
    """No certificate in TLS, a certificate in the header: nginx drops the header."""
    b = browser(site, tmp_path, None)
    page = b.get(site.url + PAGE, headers={HEADER: escaped(certs["good"])}, timeout=20)
    assert page.status_code == 401 and "未收到企业证书" in page.text
    other = browser(site, tmp_path, certs["expired"])
    page = other.get(site.url + PAGE, headers={HEADER: escaped(certs["good"])}, timeout=20)
    assert page.status_code == 401 and "证书已过期" in page.text, "the TLS certificate counts"


def test_header_forged_by_a_direct_client_is_refused(site: MtlsSite, certs) -> None:  # type: ignore[no-untyped-def]
    """Straight to the platform (127.0.0.1 is not the proxy), with a perfect certificate."""
    direct = requests.Session()
    url = f"http://127.0.0.1:{PORT}{PAGE}"
    page = direct.get(url, headers={HEADER: escaped(certs["good"]),
                                    "X-Forwarded-For": PROXY_ADDRESS}, timeout=20)
    assert page.status_code == 403 and "请通过平台的证书登录地址访问" in page.text
    assert COOKIE_NAME not in direct.cookies


@pytest.fixture
def main_vhost(app, platform, make_citizen, files: Files) -> Iterator[MtlsSite]:  # type: ignore[no-untyped-def]
    """The shipped main vhost (deploy/nginx.conf), proxying from the same trusted address
    as the certificate vhost — the setup of the header-spoofing attack (review item 1)."""
    rep = make_citizen(name="刘洋", id_number="350203198806300157", phone="13800138004",
                       realname_level=2)
    open_enterprise(platform, rep.person_id)
    with serving(app, PORT), main_site(PORT) as running:
        yield running


@pytest.mark.parametrize("forged", [
    pytest.param({}, id="certificate-header"),
    pytest.param({"X-Client-Cert-Verify": "SUCCESS"}, id="with-verify"),
    pytest.param({"X-Client-Cert-Verify": "SUCCESS", "X-Client-Cert-Proxy-Secret": SECRET},
                 id="with-verify-and-a-leaked-secret"),
])
@pytest.mark.parametrize("method", ["get", "post"])
def test_header_forged_through_the_main_vhost_is_refused(main_vhost: MtlsSite, tmp_path,  # type: ignore[no-untyped-def]
                                                         certs, forged, method) -> None:
    """The enterprise's PUBLIC certificate in a header, no private key, through the main
    site: nginx drops every certificate header there, so nothing reaches the platform."""
    b = browser(main_vhost, tmp_path, None)
    headers = {HEADER: escaped(certs["good"]), **forged}
    page = getattr(b, method)(main_vhost.url + PAGE, headers=headers, allow_redirects=False,
                              timeout=20)
    assert page.status_code in (400, 403), main_vhost.error_log()  # 400: POST without CSRF
    assert E01["name"] not in page.text
    assert COOKIE_NAME not in b.cookies
    if method == "get":
        assert "请通过平台的证书登录地址访问" in page.text


def _locations(conf: str) -> list[str]:
    """The bodies of the ``location`` blocks (none nests another in our configs)."""
    return re.findall(r"location[^{]*\{([^}]*)\}", conf)


@pytest.mark.parametrize("path", sorted(Path(ROOT / "deploy").glob("*.conf")),
                         ids=lambda p: p.name)
def test_every_shipped_location_sets_the_certificate_headers(path: Path) -> None:
    """Each location proxying to the platform overwrites all three headers: emptied, or (the
    certificate vhost only) set from the TLS handshake and the secret."""
    conf = path.read_text(encoding="utf-8")
    proxied = [body for body in _locations(conf) if "proxy_pass" in body]
    assert proxied
    for body in proxied:
        for header in (HEADER, "X-Client-Cert-Verify", "X-Client-Cert-Proxy-Secret"):
            assert re.search(rf"^\s*proxy_set_header {header} \S+;", body, re.M), (path, header)
