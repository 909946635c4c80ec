"""Sign in with an enterprise certificate behind a TLS-terminating proxy (R-23, amr ``x509``).

nginx asks the browser for a client certificate (``ssl_verify_client optional_no_ca``), which
proves possession of the key in the TLS handshake, and forwards the leaf as
``$ssl_client_escaped_cert`` in a header (``x509_header``). We trust that header only when
the TCP peer is one of the configured proxies (``x509_proxies``, CIDRs; empty: the feature
is off) — anyone else could simply send it — and then verify the certificate ourselves with
`idp.orgs.certificates` (chain to ``org_ca_roots`` through ``x509_intermediates``, validity,
CRL, fail closed) plus key usage for TLS clients: what nginx checked does not matter.

The certificate names a legal person (credit code in the subject); the one who signs in is
its current legal representative, acting for it, at the representative's real-name level.
Failures are counted per source address (``x509_failures_per_address`` per
``x509_window_seconds``) and audited with the certificate's serial and issuer only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy.orm import Session

from idp.accounts.lockout import record
from idp.accounts.models import Person
from idp.db import utcnow
from idp.orgs import certificates
from idp.orgs.certificates import CertificateError, VerifiedCertificate
from idp.orgs.models import LegalPerson, LegalPersonStatus
from idp.orgs.service import Orgs
from idp.ratelimit import Limit, RateLimiter
from idp.settings import Settings

METHOD = "x509"
MAX_HEADER_CHARS = 16 * 1024  # one escaped PEM certificate

MESSAGES: dict[str, tuple[str, str]] = {
    "not_enabled": ("本平台未开通企业证书登录,请使用其他方式登录",
                    "Sign-in with an enterprise certificate is not enabled here"),
    "untrusted_proxy": ("请通过平台的证书登录地址访问,证书信息无法确认",
                        "The certificate did not come through the platform's TLS proxy"),
    "no_certificate": ("未收到企业证书:请插入证书介质(U 盾)并在浏览器提示时选择企业证书",
                       "No certificate was presented: insert the certificate token and "
                       "choose the enterprise certificate when the browser asks"),
    "unknown_org": ("该证书对应的单位尚未开通法人账户,请先由法定代表人开户",
                    "No legal-person account exists for this certificate's organisation; "
                    "the legal representative must open one first"),
    "org_inactive": ("该法人账户已停用", "This legal-person account is not active"),
    "representative_unavailable": ("法定代表人账号不可用,无法登录",
                                   "The legal representative's account cannot sign in"),
    "throttled": ("证书登录失败次数过多,请稍后再试",
                  "Too many failed certificate sign-ins; try again later"),
    **certificates.MESSAGES,
}
STATUS = {"not_enabled": 404, "untrusted_proxy": 403, "throttled": 429,
          "crl_unavailable": 503, "not_configured": 503}


class X509LoginError(ValueError):
    """A refused certificate sign-in; ``code`` is stable, ``messages`` has zh and en."""

    def __init__(self, code: str, retry_in: int = 0) -> None:
        super().__init__(code)
        self.code = code
        self.messages = dict(zip(("zh", "en"), MESSAGES[code], strict=True))
        self.status = STATUS.get(code, 401)
        self.retry_in = retry_in


@dataclass(frozen=True)
class CertificateIdentity:
    """Who a verified certificate signs in: the representative, acting for the legal person."""

    person: Person
    legal_person: LegalPerson
    certificate: VerifiedCertificate


def proxy_networks(setting: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``x509_proxies``: CIDRs or addresses, space or comma separated (empty: feature off)."""
    return [ipaddress.ip_network(part, strict=False)
            for part in setting.replace(",", " ").split() if part]


def from_trusted_proxy(peer: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
                       ) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in net for net in networks)


def forwarded_leaf(value: str | None) -> certificates.x509.Certificate:
    """The one certificate in the proxy's header (URL-escaped PEM, as nginx sends it)."""
    if not value or not value.strip():
        raise X509LoginError("no_certificate")
    if len(value) > MAX_HEADER_CHARS:
        raise CertificateError("invalid_chain")
    chain = certificates.load_pem_chain(unquote(value.strip()))
    if len(chain) != 1:
        raise CertificateError("invalid_chain")
    return chain[0]


def check_client_usage(leaf: certificates.x509.Certificate) -> None:
    """Stricter than opening an account: a TLS client key signs (digitalSignature), and an
    extendedKeyUsage, when present, must allow clientAuth (RFC 5280 §4.2.1.3, §4.2.1.12)."""
    try:
        ku = leaf.extensions.get_extension_for_class(certificates.x509.KeyUsage).value
    except certificates.x509.ExtensionNotFound:
        raise CertificateError("wrong_key_usage") from None
    if not ku.digital_signature:
        raise CertificateError("wrong_key_usage")
    try:
        eku = leaf.extensions.get_extension_for_class(certificates.x509.ExtendedKeyUsage).value
    except certificates.x509.ExtensionNotFound:
        return
    if not {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(eku):
        raise CertificateError("wrong_key_usage")


def identify(session: Session, verified: VerifiedCertificate) -> CertificateIdentity:
    """The legal person named by a verified certificate and its representative's account.

    The hook for "acting for" (idp/web/acting.py): a certificate session acts for exactly
    this legal person.
    """
    org = Orgs(session).by_code(verified.credit_code)
    if org is None:
        raise X509LoginError("unknown_org")
    if org.status != LegalPersonStatus.ACTIVE.value:
        raise X509LoginError("org_inactive")
    person = session.get(Person, org.representative_person_id)
    if person is None or not person.is_active:
        raise X509LoginError("representative_unavailable")
    return CertificateIdentity(person, org, verified)


class CertificateLogin:
    """One request's certificate sign-in: trust, verify, identify, count, audit."""

    def __init__(self, session: Session, settings: Settings, limiter: RateLimiter, *,
                 peer: str, address: str, cache: dict[str, object] | None = None,
                 clock: Callable[[], dt.datetime] = utcnow,
                 crl_fetch: certificates.Fetch = certificates.http_fetch) -> None:
        self.session, self.settings, self.limiter = session, settings, limiter
        self.peer, self.address = peer or "-", address or "-"
        self.cache = cache if cache is not None else {}
        self.clock, self.crl_fetch = clock, crl_fetch
        self.limit = Limit("x509-addr", max(1, settings.x509_failures_per_address),
                           max(1, settings.x509_window_seconds))

    @property
    def enabled(self) -> bool:
        return bool(proxy_networks(self.settings.x509_proxies))

    def check(self, header_value: str | None) -> CertificateIdentity:
        """Verify the forwarded certificate; a refusal is counted and audited (commit the
        transaction before answering), then raised."""
        if not self.enabled:
            raise X509LoginError("not_enabled")
        if not self.limiter.test(self.limit, self.address):
            error = X509LoginError("throttled", self.limiter.resets_in(self.limit, self.address))
            self._audit(None, "throttled", reason="throttled")
            raise error
        leaf = None
        try:
            if not from_trusted_proxy(self.peer, proxy_networks(self.settings.x509_proxies)):
                raise X509LoginError("untrusted_proxy")  # a header anyone could have sent
            leaf = forwarded_leaf(header_value)
            found = identify(self.session, self._verify(leaf))
        except (X509LoginError, CertificateError) as exc:
            self.limiter.hit(self.limit, self.address)
            self._audit(None, "failure", reason=exc.code, **self._about(leaf))
            if isinstance(exc, CertificateError):
                raise X509LoginError(exc.code) from None
            raise
        return found

    def succeeded(self, found: CertificateIdentity) -> None:
        """Audit the sign-in (called when the session starts)."""
        self._audit(found.person, "success", legal_person=found.legal_person.id,
                    **self._about(found.certificate.leaf))

    def _verify(self, leaf: certificates.x509.Certificate) -> VerifiedCertificate:
        roots = self._cached("org_ca_roots", lambda: certificates.load_roots(
            self.settings.org_ca_roots))
        intermediates = self._cached("x509_intermediates", lambda: certificates.load_roots(
            self.settings.x509_intermediates))
        if not roots:
            raise CertificateError("not_configured")
        crls = certificates.load_crls(self.settings.org_crl_sources,
                                      self.settings.org_crl_timeout_ms / 1000, self.crl_fetch)
        verified = certificates.verify_chain([leaf, *intermediates], roots, crls, self.clock())
        check_client_usage(leaf)
        return verified

    def _cached(self, name: str, build: Callable[[], list]) -> list:  # type: ignore[type-arg]
        if name not in self.cache:
            self.cache[name] = build()
        return self.cache[name]  # type: ignore[return-value]

    @staticmethod
    def _about(leaf: certificates.x509.Certificate | None) -> dict[str, str]:
        """Serial and issuer only: the subject names an organisation and may name people."""
        if leaf is None:
            return {}
        return {"serial": format(leaf.serial_number, "x"),
                "issuer": leaf.issuer.rfc4514_string()[:200]}

    def _audit(self, person: Person | None, outcome: str, **details: object) -> None:
        # The password and face logins' actions, so the console counts every method alike.
        action = "account:login:success" if outcome == "success" else "account:login:failure"
        record(self.session, action, person=person, address=self.address, outcome=outcome,
               method=METHOD, **details)
