"""A real test PKI made with ``cryptography``: root → intermediate → enterprise leaf, CRLs.

Everything is generated per test session; nothing here is a fixture file.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from idp.orgs.certificates import ORGANIZATION_IDENTIFIER

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)


def _name(cn: str, *extra: x509.NameAttribute) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn), *extra])


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, text: str) -> str:
        return base64.b64encode(self.key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))).decode()


def issue(subject: x509.Name, issuer: Issued | None, *, ca: bool, path_length: int | None = None,
          not_before: dt.datetime = NOW - DAY, not_after: dt.datetime = NOW + 365 * DAY,
          key_usage: dict[str, bool] | None = None,
          eku: list[x509.ObjectIdentifier] | None = None) -> Issued:
    """One certificate; ``issuer=None`` makes it self-signed (a root)."""
    key = ec.generate_private_key(ec.SECP256R1())
    usage = dict(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                 data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                 encipher_only=False, decipher_only=False)
    usage.update(key_usage or {})
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.cert.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), True)
               .add_extension(x509.KeyUsage(**usage), True))
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), False)
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def crl(issuer: Issued, revoked: list[x509.Certificate] = (),  # type: ignore[assignment]
        next_update: dt.datetime = NOW + 7 * DAY) -> bytes:
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.cert.subject)
               .last_update(NOW - DAY).next_update(next_update))
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
            .revocation_date(NOW - DAY).build())
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def enterprise_subject(credit_code: str, *, attribute: str = "organizationIdentifier",
                       org: str = "厦门鹭江数字科技有限公司") -> x509.Name:
    oid = ORGANIZATION_IDENTIFIER if attribute == "organizationIdentifier" \
        else NameOID.SERIAL_NUMBER
    value = f"NTRCN-{credit_code}" if attribute == "organizationIdentifier" else credit_code
    return _name(org, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                 x509.NameAttribute(oid, value))


@dataclass
class Pki:
    """root → intermediate → leaves; a second, untrusted root; CRLs of both CAs."""

    root: Issued = field(init=False)
    intermediate: Issued = field(init=False)
    other_root: Issued = field(init=False)

    def __post_init__(self) -> None:
        self.root = issue(_name("Test Enterprise Root CA"), None, ca=True)
        self.intermediate = issue(_name("Test Enterprise Issuing CA"), self.root, ca=True,
                                  path_length=0)
        self.other_root = issue(_name("Some Other Root CA"), None, ca=True)

    def leaf(self, credit_code: str, *, issuer: Issued | None = None, **kw: object) -> Issued:
        kw.setdefault("eku", [ExtendedKeyUsageOID.CLIENT_AUTH])
        attribute = str(kw.pop("attribute", "organizationIdentifier"))
        return issue(enterprise_subject(credit_code, attribute=attribute),
                     issuer or self.intermediate, ca=False, **kw)  # type: ignore[arg-type]

    def chain(self, leaf: Issued, *, intermediate: Issued | None = None) -> str:
        return leaf.pem + (intermediate or self.intermediate).pem

    def crls(self, revoked: list[x509.Certificate] = ()  # type: ignore[assignment]
             ) -> list[bytes]:
        """One CRL per CA (root's, intermediate's), listing ``revoked`` under their issuer."""
        return [crl(ca, [c for c in revoked if c.issuer == ca.cert.subject])
                for ca in (self.root, self.intermediate)]
