"""Certificate sign-in does not download CRLs on every request (issue 4 review item 3): a
CRL served over HTTP is fetched once and kept until its nextUpdate, fetched again after it,
and refused when stale and unreachable (fail closed); every attempt counts towards the
per-address limit, not only failures."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from idp.orgs.x509_login import CertificateLogin, X509LoginError
from idp.serve import free_port
from tests.orgs.conftest import E01, Files
from tests.orgs.pki import DAY, NOW, Issued, Pki, crl
from tests.orgs.x509_helpers import SECRET, certificates, escaped, open_enterprise, x509_settings

CRL_PORT = free_port()
SOURCES = " ".join(f"http://127.0.0.1:{CRL_PORT}/{i}.crl" for i in range(2))
PROXY = "10.9.0.7"


class CrlServer:
    """Serves ``<dir>/<n>.crl`` and counts requests per path; ``down`` answers 503."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.hits, self.down = directory, Counter[str](), False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.hits[self.path] += 1
                target = server.directory / self.path.lstrip("/")
                if server.down or not target.is_file():
                    self.send_error(503)
                    return
                body = target.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", CRL_PORT), Handler)

    def total(self) -> int:
        return sum(self.hits.values())


@pytest.fixture
def crl_server(files: Files) -> Iterator[CrlServer]:
    running = CrlServer(files.crl_dir)
    thread = threading.Thread(target=running.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running.httpd.shutdown()
        running.httpd.server_close()


@pytest.fixture
def settings_overrides(pki: Pki, files: Files) -> dict[str, Any]:
    return {**x509_settings(pki, files, proxies="10.9.0.0/24"), "org_crl_sources": SOURCES,
            "x509_attempts_per_address": 4, "x509_failures_per_address": 10}


@pytest.fixture(scope="module")
def certs(pki: Pki) -> dict[str, Issued]:
    return certificates(pki)


@pytest.fixture
def enterprise(platform, make_citizen):  # type: ignore[no-untyped-def]
    rep = make_citizen(name="刘洋", id_number="350203198806300157", phone="13800138004",
                       realname_level=2)
    open_enterprise(platform, rep.person_id)
    return rep


def check(platform, cert: Issued, at: dt.datetime, cache: dict[str, object],  # type: ignore[no-untyped-def]
          address: str = "198.51.100.1") -> str:
    with platform.db.session() as db:
        service = CertificateLogin(db, platform.settings, platform.limiter, peer=PROXY,
                                   address=address, cache=cache, clock=lambda: at)
        try:
            return service.check(escaped(cert), proxy_secret=SECRET,
                                 client_verify="SUCCESS").legal_person.credit_code
        except X509LoginError as exc:
            error = exc  # the refusal's audit commits with the transaction
    raise error


def republish(files: Files, pki: Pki, next_update: dt.datetime,
              revoked: tuple[Issued, ...] = ()) -> None:
    for i, ca in enumerate((pki.root, pki.intermediate)):
        listed = [c.cert for c in revoked if c.cert.issuer == ca.cert.subject]
        (files.crl_dir / f"{i}.crl").write_bytes(crl(ca, listed, next_update=next_update))


def test_crl_cached_until_next_update_then_fetched_again(platform, enterprise, certs,  # type: ignore[no-untyped-def]
                                                         crl_server, files, pki):
    cache: dict[str, object] = {}  # the process's cache (the page passes Platform.services)
    for i in range(3):
        assert check(platform, certs["good"], NOW, cache, f"198.51.100.{i}") == E01["code"]
    assert crl_server.hits == {"/0.crl": 1, "/1.crl": 1}, "one download per CRL, not per request"

    republish(files, pki, NOW + 30 * DAY)
    assert check(platform, certs["good"], NOW + 8 * DAY, cache) == E01["code"]
    assert crl_server.hits == {"/0.crl": 2, "/1.crl": 2}, "past nextUpdate: fetched again"

    crl_server.down = True
    assert check(platform, certs["good"], NOW + 9 * DAY, cache) == E01["code"], \
        "a fresh cached CRL serves while the CA's server is down"
    assert crl_server.total() == 4

    with pytest.raises(X509LoginError) as err:
        check(platform, certs["good"], NOW + 31 * DAY, cache)
    assert (err.value.code, err.value.status) == ("crl_unavailable", 503), \
        "stale and unreachable: fail closed"


def test_revocation_seen_after_next_update(platform, enterprise, certs, crl_server, files,  # type: ignore[no-untyped-def]
                                           pki):
    cache: dict[str, object] = {}
    assert check(platform, certs["revoked"], NOW, cache) == E01["code"]
    republish(files, pki, NOW + 30 * DAY, revoked=(certs["revoked"],))
    # Until nextUpdate the cached CRL stands (the CA's own publication period) ...
    assert check(platform, certs["revoked"], NOW + DAY, cache) == E01["code"]
    # ... after it the new one is fetched.
    with pytest.raises(X509LoginError) as err:
        check(platform, certs["revoked"], NOW + 8 * DAY, cache)
    assert err.value.code == "revoked"


def test_page_caches_crls_per_process(client, platform, enterprise, certs, crl_server):  # type: ignore[no-untyped-def]
    headers = {"X-Client-Cert": escaped(certs["good"]), "X-Client-Cert-Proxy-Secret": SECRET,
               "X-Client-Cert-Verify": "SUCCESS"}
    for _ in range(3):
        resp = client.get("/login/certificate", headers=headers,
                          environ_base={"REMOTE_ADDR": PROXY})
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert crl_server.hits == {"/0.crl": 1, "/1.crl": 1}


def test_every_attempt_counts_not_only_failures(platform, enterprise, certs, crl_server):  # type: ignore[no-untyped-def]
    cache: dict[str, object] = {}
    for _ in range(4):  # x509_attempts_per_address: all successes
        assert check(platform, certs["good"], NOW, cache) == E01["code"]
    with pytest.raises(X509LoginError) as err:
        check(platform, certs["good"], NOW, cache)
    assert (err.value.code, err.value.status) == ("throttled", 429) and err.value.retry_in > 0
    assert check(platform, certs["good"], NOW, cache, address="198.51.100.2") == E01["code"], \
        "per address"
