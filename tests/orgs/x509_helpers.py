"""Shared by the certificate sign-in tests: the settings, an enterprise and its certificates."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from idp.orgs.service import Orgs
from idp.platform import Platform
from tests.orgs.conftest import E01, E02, Files
from tests.orgs.pki import Issued, Pki

NOW = dt.datetime.now(dt.UTC)
HEADER = "X-Client-Cert"
SECRET = "x509-proxy-secret-for-tests-0123456789abcdef"  # IDP_X509_PROXY_SECRET


def x509_settings(pki: Pki, files: Files, proxies: str) -> dict[str, Any]:
    return dict(org_ca_roots=pki.root.pem, x509_intermediates=pki.intermediate.pem,
                org_crl_sources=f"{files.crl_dir / '0.crl'} {files.crl_dir / '1.crl'}",
                x509_proxies=proxies, x509_proxy_secret=SECRET, x509_failures_per_address=5)


def open_enterprise(platform: Platform, rep_id: int, code: str = E01["code"],
                    name: str = E01["name"]) -> int:
    with platform.db.session() as db:
        return Orgs(db).open_account(credit_code=code, name=name, kind="enterprise",
                                     representative_person_id=rep_id,
                                     opened_by="representative_online", actor="test").id


def certificates(pki: Pki) -> dict[str, Issued]:
    """One leaf per case the sign-in must tell apart (all for E01 unless said otherwise)."""
    return {
        "good": pki.leaf(E01["code"]),
        "expired": pki.leaf(E01["code"], not_before=NOW - dt.timedelta(days=30),
                            not_after=NOW - dt.timedelta(days=1)),
        "revoked": pki.leaf(E01["code"]),
        "wrong_ca": pki.leaf(E01["code"], issuer=pki.other_root),
        "wrong_key_usage": pki.leaf(E01["code"], key_usage={"digital_signature": False,
                                                            "key_encipherment": True}),
        "server_only": pki.leaf(E01["code"], eku=[ExtendedKeyUsageOID.SERVER_AUTH]),
        # Good enough to open an account (signing documents), not to sign in over TLS:
        "non_repudiation_only": pki.leaf(E01["code"], key_usage={
            "digital_signature": False, "content_commitment": True}),
        "document_signing_only": pki.leaf(E01["code"], eku=[
            x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")]),
        "unknown_org": pki.leaf(E02["code"]),
    }


def escaped(cert: Issued) -> str:
    """As nginx's $ssl_client_escaped_cert."""
    return quote(cert.pem, safe="")
