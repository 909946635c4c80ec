"""Enterprise CA certificates against a real test CA made here (issue 4 acceptance, R-23)."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from idp.orgs import certificates as c
from tests.orgs.pki import DAY, NOW, Pki, crl, issue

CODE = "91350200MA2XK7L02E"


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def _verify(pki: Pki, chain_pem: str, crls: list[bytes] | None = None,
            roots: list[x509.Certificate] | None = None) -> c.VerifiedCertificate:
    loaded = [x509.load_pem_x509_crl(raw) for raw in (pki.crls() if crls is None else crls)]
    return c.verify_chain(c.load_pem_chain(chain_pem),
                          [pki.root.cert] if roots is None else roots, loaded, NOW)


def test_chain_ok_gives_credit_code_and_organisation(pki: Pki) -> None:
    leaf = pki.leaf(CODE)
    got = _verify(pki, pki.chain(leaf))
    assert got.credit_code == CODE
    assert got.organisation == "厦门鹭江数字科技有限公司"
    assert [p.subject for p in got.path] == [leaf.cert.subject, pki.intermediate.cert.subject,
                                             pki.root.cert.subject]


def test_intermediate_first_in_upload_is_fine(pki: Pki) -> None:
    leaf = pki.leaf(CODE)
    # leaf must come first; the order of the others does not matter
    assert _verify(pki, leaf.pem + pki.intermediate.pem + pki.root.pem).credit_code == CODE


def test_serial_number_attribute_carries_the_code(pki: Pki) -> None:
    leaf = pki.leaf(CODE, attribute="serialNumber")
    assert _verify(pki, pki.chain(leaf)).credit_code == CODE


@pytest.mark.parametrize(("case", "code"), [
    ("expired", "expired"),
    ("not_yet_valid", "expired"),
    ("expired_intermediate", "expired"),
    ("revoked", "revoked"),
    ("revoked_intermediate", "revoked"),
    ("wrong_ca", "untrusted"),
    ("missing_intermediate", "untrusted"),
    ("key_encipherment_only", "wrong_key_usage"),
    ("server_auth_only", "wrong_key_usage"),
    ("leaf_is_ca", "leaf_is_ca"),
    ("issuer_not_ca", "not_a_ca"),
    ("no_credit_code", "no_credit_code"),
    ("no_crl", "crl_unavailable"),
    ("stale_crl", "crl_unavailable"),
    ("crl_signed_by_other", "crl_unavailable"),
    ("no_roots", "not_configured"),
])
def test_refused(pki: Pki, case: str, code: str) -> None:
    crls: list[bytes] | None = None
    roots = None
    chain: str
    if case == "expired":
        chain = pki.chain(pki.leaf(CODE, not_before=NOW - 30 * DAY, not_after=NOW - DAY))
    elif case == "not_yet_valid":
        chain = pki.chain(pki.leaf(CODE, not_before=NOW + DAY))
    elif case == "expired_intermediate":
        inter = issue(pki.intermediate.cert.subject, pki.root, ca=True,
                      not_after=NOW - DAY, not_before=NOW - 9 * DAY)
        chain = pki.chain(pki.leaf(CODE, issuer=inter), intermediate=inter)
        crls = [crl(pki.root), crl(inter)]
    elif case == "revoked":
        leaf = pki.leaf(CODE)
        chain, crls = pki.chain(leaf), pki.crls([leaf.cert])
    elif case == "revoked_intermediate":
        chain, crls = pki.chain(pki.leaf(CODE)), pki.crls([pki.intermediate.cert])
    elif case == "wrong_ca":
        other_inter = issue(x509.Name.from_rfc4514_string("CN=Other Issuing CA"),
                            pki.other_root, ca=True)
        chain = pki.chain(pki.leaf(CODE, issuer=other_inter), intermediate=other_inter)
    elif case == "missing_intermediate":
        chain = pki.leaf(CODE).pem
    elif case == "key_encipherment_only":
        chain = pki.chain(pki.leaf(CODE, key_usage={"digital_signature": False,
                                                    "key_encipherment": True}))
    elif case == "server_auth_only":
        chain = pki.chain(pki.leaf(CODE, eku=[ExtendedKeyUsageOID.SERVER_AUTH]))
    elif case == "leaf_is_ca":
        chain = pki.chain(issue(pki.leaf(CODE).cert.subject, pki.intermediate, ca=True))
    elif case == "issuer_not_ca":
        fake = issue(x509.Name.from_rfc4514_string("CN=Not a CA"), pki.intermediate, ca=False)
        chain = pki.leaf(CODE, issuer=fake).pem + fake.pem + pki.intermediate.pem
    elif case == "no_credit_code":
        chain = pki.chain(issue(x509.Name.from_rfc4514_string("CN=someone,O=Nobody"),
                                pki.intermediate, ca=False))
    elif case == "no_crl":
        chain, crls = pki.chain(pki.leaf(CODE)), [crl(pki.root)]
    elif case == "stale_crl":
        chain = pki.chain(pki.leaf(CODE))
        crls = [crl(pki.root), crl(pki.intermediate, next_update=NOW - DAY)]
    elif case == "crl_signed_by_other":
        chain = pki.chain(pki.leaf(CODE))
        forged = issue(pki.intermediate.cert.subject, pki.other_root, ca=True)
        crls = [crl(pki.root), crl(forged)]
    else:  # no_roots
        chain, roots = pki.chain(pki.leaf(CODE)), []
    with pytest.raises(c.CertificateError) as err:
        _verify(pki, chain, crls, roots)
    assert err.value.code == code
    assert err.value.messages["zh"] and err.value.messages["en"]


@pytest.mark.parametrize("text", [
    "", "not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
    "-----BEGIN CERTIFICATE-----" + "A" * 70_000, "证书",
])
def test_bad_pem_is_refused(text: str) -> None:
    with pytest.raises(c.CertificateError) as err:
        c.load_pem_chain(text)
    assert err.value.code in ("invalid_chain", "chain_too_long")


def test_possession_proof(pki: Pki) -> None:
    leaf = pki.leaf(CODE)
    c.verify_possession(leaf.cert, "challenge-1", leaf.sign("challenge-1"))
    other = pki.leaf(CODE)
    for signature in (leaf.sign("challenge-2"), other.sign("challenge-1"), "!!", "", "AAAA"):
        with pytest.raises(c.CertificateError) as err:
            c.verify_possession(leaf.cert, "challenge-1", signature)
        assert err.value.code == "bad_signature"


def test_crl_sources_fail_closed(tmp_path, pki: Pki) -> None:
    good = tmp_path / "root.crl"
    good.write_bytes(pki.crls()[0])
    assert len(c.load_crls(str(good), 1.0)) == 1

    def down(url: str, timeout: float) -> bytes:
        assert timeout == 1.0
        raise OSError("connection refused")

    for sources, fetch in ((str(tmp_path / "missing.crl"), c.http_fetch),
                           (f"{good} https://crl.example.test/ca.crl", down)):
        with pytest.raises(c.CertificateError) as err:
            c.load_crls(sources, 1.0, fetch)
        assert err.value.code == "crl_unavailable"
    garbage = tmp_path / "garbage.crl"
    garbage.write_bytes(b"not a crl")
    with pytest.raises(c.CertificateError):
        c.load_crls(str(garbage), 1.0)


def test_crl_over_http_with_der(pki: Pki) -> None:
    der = x509.load_pem_x509_crl(pki.crls()[1]).public_bytes(serialization.Encoding.DER)
    got = c.load_crls("https://crl.example.test/issuing.crl", 2.0, lambda url, t: der)
    assert got[0].issuer == pki.intermediate.cert.subject
