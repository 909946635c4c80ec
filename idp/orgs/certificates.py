"""Enterprise CA certificates: chain, validity, key usage, revocation, credit code (R-23).

The applicant uploads the enterprise certificate with its intermediates (PEM, leaf first or
in any order) and signs a server challenge with the certificate's key. We

1. build a path from the leaf through the uploaded intermediates to one of the configured
   roots (``org_ca_roots``), each link's signature verified (RFC 5280 §6.1, simplified: no
   policy or name constraints processing — the roots are the platform's chosen enterprise
   CAs, configured by operators);
2. require every certificate to be within its validity period; every issuer to be a CA
   (basicConstraints cA, keyCertSign, pathLenConstraint honoured);
3. require the leaf to be an end-entity certificate usable for signing: keyUsage
   digitalSignature or nonRepudiation, and, when extendedKeyUsage is present, clientAuth,
   emailProtection, documentSigning or anyExtendedKeyUsage;
4. check every non-root certificate against a CRL of its issuer (``org_crl_sources``: files
   or URLs, fetched with a timeout), signed by that issuer and not past its nextUpdate —
   **fail closed**: no usable CRL means the certificate is refused (RFC 5280 §6.3);
5. take the unified social credit code from the subject: the ``organizationIdentifier``
   attribute (OID 2.5.4.97; ETSI EN 319 412-1 ``NTRCN-`` prefix accepted) first, else the
   ``serialNumber`` attribute (OID 2.5.4.5), as Chinese enterprise CAs use either.

SM2 certificates (GM/T 0015) are not supported by ``cryptography``: they are refused as
unsupported keys with a clear message.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from idp.realname.documents import DocumentError, parse

log = logging.getLogger(__name__)

ORGANIZATION_IDENTIFIER = x509.ObjectIdentifier("2.5.4.97")
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
LEAF_PURPOSES = frozenset({ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION,
                           DOCUMENT_SIGNING, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE})
MAX_CHAIN = 6
MAX_PEM_CHARS = 64 * 1024
MAX_CRL_BYTES = 10 * 1024 * 1024

MESSAGES: dict[str, tuple[str, str]] = {
    "invalid_chain": ("证书格式无效,请上传 PEM 格式的证书链",
                      "The certificate chain is not valid PEM"),
    "chain_too_long": ("证书链过长", "The certificate chain is too long"),
    "not_configured": ("平台尚未配置企业 CA 根证书,暂不支持证书开户",
                       "No enterprise CA roots are configured"),
    "untrusted": ("证书不是由平台认可的 CA 签发", "The certificate was not issued by a "
                  "trusted CA"),
    "expired": ("证书已过期或尚未生效", "A certificate in the chain is expired or not yet "
                "valid"),
    "not_a_ca": ("证书链中的签发者不是 CA 证书", "An issuer in the chain is not a CA"),
    "leaf_is_ca": ("请上传企业的用户证书,而不是 CA 证书",
                   "Upload the enterprise's own certificate, not a CA certificate"),
    "wrong_key_usage": ("证书用途不允许用于身份认证或签名",
                        "The certificate's key usage does not allow authentication or "
                        "signing"),
    "crl_unavailable": ("暂时无法获取证书吊销列表,无法确认证书状态,请稍后再试",
                        "The certificate revocation list is unavailable; the certificate "
                        "cannot be checked now — try again later"),
    "revoked": ("证书已被吊销", "The certificate has been revoked"),
    "no_credit_code": ("证书主题中没有有效的统一社会信用代码",
                       "The certificate subject carries no valid unified social credit "
                       "code"),
    "unsupported_key": ("不支持该证书的密钥算法", "The certificate's key type is not "
                        "supported"),
    "bad_signature": ("签名验证失败:请用该证书的私钥对挑战码签名",
                      "The signature does not verify: sign the challenge with the "
                      "certificate's private key"),
}


class CertificateError(ValueError):
    """A refused certificate; ``code`` is stable, ``messages`` has zh and en."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        zh, en = MESSAGES[code]
        self.message = zh
        self.messages = {"zh": zh, "en": en}


@dataclass(frozen=True)
class VerifiedCertificate:
    """A trusted, unrevoked enterprise certificate and what it says about the enterprise."""

    leaf: x509.Certificate
    path: tuple[x509.Certificate, ...]  # leaf … root
    credit_code: str
    organisation: str  # O (or CN) of the subject, as the CA wrote it
    fingerprint: str  # SHA-256 of the leaf, hex

    @property
    def serial(self) -> str:
        return format(self.leaf.serial_number, "x")


# -- loading -------------------------------------------------------------------------------

def load_pem_chain(text: str) -> list[x509.Certificate]:
    """Parse uploaded PEM certificates; refuse anything else or too many."""
    if not isinstance(text, str) or "-----BEGIN CERTIFICATE-----" not in text \
            or len(text) > MAX_PEM_CHARS:
        raise CertificateError("invalid_chain")
    try:
        certs = x509.load_pem_x509_certificates(text.encode("ascii", "strict"))
    except (ValueError, UnicodeEncodeError):
        raise CertificateError("invalid_chain") from None
    if len(certs) > MAX_CHAIN:
        raise CertificateError("chain_too_long")
    return certs


def load_roots(setting: str) -> list[x509.Certificate]:
    """The configured roots: PEM text, or the path of a PEM file. Empty: none."""
    setting = setting.strip()
    if not setting:
        return []
    text = setting if "-----BEGIN" in setting else Path(setting).read_text(encoding="ascii")
    return x509.load_pem_x509_certificates(text.encode("ascii"))


Fetch = Callable[[str, float], bytes]


def http_fetch(url: str, timeout: float) -> bytes:
    """GET a CRL; no redirects, bounded size."""
    resp = requests.get(url, timeout=timeout, allow_redirects=False, stream=True)
    try:
        if resp.status_code != 200:
            raise OSError(f"CRL answered {resp.status_code}")
        data = resp.raw.read(MAX_CRL_BYTES + 1, decode_content=True)
    finally:
        resp.close()
    if len(data) > MAX_CRL_BYTES:
        raise OSError("CRL too large")
    return bytes(data)


def load_crls(sources: str, timeout: float, fetch: Fetch = http_fetch
              ) -> list[x509.CertificateRevocationList]:
    """Every configured CRL, fresh; any source that fails → ``crl_unavailable`` (fail closed)."""
    crls = []
    for source in sources.split():
        try:
            if source.startswith(("https://", "http://")):
                raw = fetch(source, timeout)
            else:
                raw = Path(source).read_bytes()
            crls.append(_parse_crl(raw))
        except (OSError, ValueError, requests.RequestException) as exc:
            log.warning("CRL source %s unavailable: %s", source, type(exc).__name__)
            raise CertificateError("crl_unavailable") from None
    return crls


def _parse_crl(raw: bytes) -> x509.CertificateRevocationList:
    if raw.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_crl(raw)
    return x509.load_der_x509_crl(raw)


# -- verification ----------------------------------------------------------------------------

def verify_chain(chain: Sequence[x509.Certificate], roots: Sequence[x509.Certificate],
                 crls: Sequence[x509.CertificateRevocationList], at: dt.datetime
                 ) -> VerifiedCertificate:
    """Verify the uploaded chain (leaf first) as the module docstring describes."""
    if not roots:
        raise CertificateError("not_configured")
    if not chain:
        raise CertificateError("invalid_chain")
    leaf = chain[0]
    path = _build_path(leaf, list(chain[1:]), list(roots))
    for cert in path:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise CertificateError("expired")
    for below, issuer in enumerate(path[1:]):
        _check_issuer(issuer, intermediates_below=below)
    _check_leaf(leaf)
    for cert, issuer in zip(path, path[1:], strict=False):
        _check_revocation(cert, issuer, crls, at)
    return VerifiedCertificate(leaf, tuple(path), credit_code_of(leaf), _organisation(leaf),
                               leaf.fingerprint(hashes.SHA256()).hex())


def _build_path(leaf: x509.Certificate, intermediates: list[x509.Certificate],
                roots: list[x509.Certificate]) -> list[x509.Certificate]:
    path = [leaf]
    for _ in range(MAX_CHAIN):
        current = path[-1]
        root = _issuer_in(current, roots)
        if root is not None:
            return path + ([] if root == current else [root])
        parent = _issuer_in(current, [c for c in intermediates if c not in path])
        if parent is None:
            raise CertificateError("untrusted")
        path.append(parent)
    raise CertificateError("chain_too_long")


def _issuer_in(cert: x509.Certificate, candidates: list[x509.Certificate]
               ) -> x509.Certificate | None:
    for candidate in candidates:
        if candidate.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        return candidate
    return None


def _extension(cert: x509.Certificate, kind: type) -> object | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _check_issuer(issuer: x509.Certificate, *, intermediates_below: int) -> None:
    """RFC 5280 §6.1.4 (k), (l), (n): an issuer is a CA allowed to sign certificates."""
    bc = _extension(issuer, x509.BasicConstraints)
    if not isinstance(bc, x509.BasicConstraints) or not bc.ca:
        raise CertificateError("not_a_ca")
    if bc.path_length is not None and intermediates_below > bc.path_length:
        raise CertificateError("not_a_ca")
    ku = _extension(issuer, x509.KeyUsage)
    if isinstance(ku, x509.KeyUsage) and not ku.key_cert_sign:
        raise CertificateError("not_a_ca")


def _check_leaf(leaf: x509.Certificate) -> None:
    bc = _extension(leaf, x509.BasicConstraints)
    if isinstance(bc, x509.BasicConstraints) and bc.ca:
        raise CertificateError("leaf_is_ca")
    ku = _extension(leaf, x509.KeyUsage)
    if not isinstance(ku, x509.KeyUsage) or not (ku.digital_signature
                                                 or ku.content_commitment):
        raise CertificateError("wrong_key_usage")
    eku = _extension(leaf, x509.ExtendedKeyUsage)
    if isinstance(eku, x509.ExtendedKeyUsage) and not LEAF_PURPOSES.intersection(eku):
        raise CertificateError("wrong_key_usage")


def _check_revocation(cert: x509.Certificate, issuer: x509.Certificate,
                      crls: Sequence[x509.CertificateRevocationList], at: dt.datetime) -> None:
    """A current CRL signed by the issuer must exist and must not list the certificate."""
    usable = [crl for crl in crls if crl.issuer == issuer.subject and _signed_by(crl, issuer)
              and crl.next_update_utc is not None and crl.next_update_utc >= at]
    if not usable:
        raise CertificateError("crl_unavailable")
    if any(crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
           for crl in usable):
        raise CertificateError("revoked")


def _signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    try:
        return crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, UnsupportedAlgorithm):
        return False


def credit_code_of(cert: x509.Certificate) -> str:
    """The unified social credit code in the subject (organizationIdentifier, serialNumber)."""
    for oid in (ORGANIZATION_IDENTIFIER, NameOID.SERIAL_NUMBER):
        for attr in cert.subject.get_attributes_for_oid(oid):
            value = str(attr.value).strip()
            value = value.removeprefix("NTRCN-").removeprefix("NTRCN+")
            try:
                return parse("uscc", value).number
            except DocumentError:
                continue
    raise CertificateError("no_credit_code")


def _organisation(cert: x509.Certificate) -> str:
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        attrs = cert.subject.get_attributes_for_oid(oid)
        if attrs:
            return str(attrs[0].value)[:200]
    return ""


# -- proof of possession ---------------------------------------------------------------------

def verify_possession(leaf: x509.Certificate, challenge: str, signature_b64: str) -> None:
    """The applicant signed ``challenge`` (UTF-8) with the leaf's private key.

    ECDSA with SHA-256 (DER signature), RSA PKCS#1 v1.5 with SHA-256, or Ed25519.
    """
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
    except (binascii.Error, ValueError, AttributeError):
        raise CertificateError("bad_signature") from None
    key = leaf.public_key()
    data = challenge.encode()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            raise CertificateError("unsupported_key")
    except InvalidSignature:
        raise CertificateError("bad_signature") from None


def digest(text: str) -> str:
    """A short fingerprint of uploaded text for audit (never the text itself)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
