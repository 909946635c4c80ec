"""Sign in with an enterprise certificate behind a TLS-terminating proxy (R-23, amr ``x509``).

nginx asks the browser for a client certificate (``ssl_verify_client optional_no_ca``), which
proves possession of the key in the TLS handshake, and forwards the leaf as
``$ssl_client_escaped_cert`` in a header (``x509_header``). We trust that header only when
(1) the TCP peer is one of the configured proxies (``x509_proxies``, CIDRs; empty: the
feature is off) — anyone else could simply send it; (2) the request carries the certificate
vhost's secret (``X-Client-Cert-Proxy-Secret`` = ``x509_proxy_secret``, compared in constant
time) — the main vhost proxies from the same address, so the address alone cannot tell a
handshake from a header a client typed; (3) nginx says a certificate came in the handshake
(``X-Client-Cert-Verify`` = ``$ssl_client_verify``: ``SUCCESS`` or ``FAILED:…``, never
``NONE`` or absent). Then we verify the certificate ourselves with `idp.orgs.certificates`
(chain to ``org_ca_roots`` through ``x509_intermediates``, validity, CRL, fail closed) plus
key usage for TLS clients: what nginx checked does not matter.

CRLs are parsed once per process and kept until their nextUpdate (`CrlCache`); a stale one
that cannot be fetched again refuses sign-in (fail closed).

The certificate names a legal person (credit code in the subject); the one who signs in is
its current legal representative, acting for it, at the representative's real-name level.
Every attempt is counted per source address (``x509_attempts_per_address``), failures also
on their own (``x509_failures_per_address``), both per ``x509_window_seconds``; failures
are audited with the certificate's serial and issuer only.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import threading
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
SECRET_HEADER = "X-Client-Cert-Proxy-Secret"  # only the certificate vhost sends it
VERIFY_HEADER = "X-Client-Cert-Verify"  # nginx's $ssl_client_verify

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
    "throttled": ("证书登录尝试次数过多,请稍后再试",
                  "Too many certificate sign-in attempts; try again later"),
    "no_handshake": ("证书未在加密连接中出示,无法确认,请通过平台的证书登录地址访问",
                     "The certificate was not presented in the TLS handshake; use the "
                     "platform's certificate sign-in address"),
    **certificates.MESSAGES,
}
STATUS = {"not_enabled": 404, "untrusted_proxy": 403, "no_handshake": 403, "throttled": 429,
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


def from_certificate_vhost(secret: str | None, expected: str) -> bool:
    """The certificate vhost's shared secret, compared in constant time (never empty)."""
    if not expected or not secret:
        return False
    return hmac.compare_digest(secret.encode("utf-8", "replace"), expected.encode("utf-8"))


def handshake_presented(verify: str | None) -> bool:
    """``$ssl_client_verify`` when a certificate came in the handshake: SUCCESS, or FAILED:…
    (``optional_no_ca``: nginx did not or could not verify it; the platform does)."""
    value = (verify or "").strip()
    return value == "SUCCESS" or value.startswith("FAILED:")


class CrlCache:
    """Parsed CRLs per source, kept until their nextUpdate (per process; RFC 5280 §5.1.2.5).

    A CRL without nextUpdate, or already past it, is fetched again on every use; a source
    that cannot be fetched when its CRL is stale raises ``crl_unavailable`` (fail closed).
    """

    def __init__(self) -> None:
        self._crls: dict[str, certificates.x509.CertificateRevocationList] = {}
        self._lock = threading.Lock()

    def get(self, sources: str, timeout: float, fetch: certificates.Fetch,
            now: dt.datetime) -> list[certificates.x509.CertificateRevocationList]:
        out = []
        for source in sources.split():
            with self._lock:
                crl = self._crls.get(source)
            remote = source.startswith(("https://", "http://"))  # files are cheap to re-read
            if not remote or crl is None or crl.next_update_utc is None \
                    or crl.next_update_utc <= now:
                [crl] = certificates.load_crls(source, timeout, fetch)
                with self._lock:
                    self._crls[source] = crl
            out.append(crl)
        return out


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
        window = max(1, settings.x509_window_seconds)
        self.limit = Limit("x509-addr", max(1, settings.x509_failures_per_address), window)
        self.attempts = Limit("x509-try", max(1, settings.x509_attempts_per_address), window)

    @property
    def enabled(self) -> bool:
        return bool(proxy_networks(self.settings.x509_proxies))

    def check(self, header_value: str | None, *, proxy_secret: str | None = None,
              client_verify: str | None = None) -> CertificateIdentity:
        """Verify the forwarded certificate; a refusal is counted and audited (commit the
        transaction before answering), then raised.

        ``proxy_secret`` and ``client_verify``: the certificate vhost's secret header and
        nginx's ``$ssl_client_verify`` (module docstring).
        """
        if not self.enabled:
            raise X509LoginError("not_enabled")
        # Every attempt counts, not only failures: each one may download CRLs and costs a
        # chain verification (issue 4, review item 3).
        for limit in (self.attempts, self.limit):
            if not self.limiter.test(limit, self.address):
                error = X509LoginError("throttled", self.limiter.resets_in(limit, self.address))
                self._audit(None, "throttled", reason="throttled")
                raise error
        self.limiter.hit(self.attempts, self.address)
        leaf = None
        try:
            if not from_trusted_proxy(self.peer, proxy_networks(self.settings.x509_proxies)):
                raise X509LoginError("untrusted_proxy")  # a header anyone could have sent
            if not from_certificate_vhost(proxy_secret, self.settings.x509_proxy_secret):
                # The trusted address, but not the certificate vhost (e.g. the main site
                # passing on a header the client sent): as untrusted as a direct client.
                raise X509LoginError("untrusted_proxy")
            leaf = forwarded_leaf(header_value)
            if not handshake_presented(client_verify):
                raise X509LoginError("no_handshake")
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
        now = self.clock()
        crl_cache = self.cache.setdefault("x509_crls", CrlCache())
        assert isinstance(crl_cache, CrlCache)
        crls = crl_cache.get(self.settings.org_crl_sources,
                             self.settings.org_crl_timeout_ms / 1000, self.crl_fetch, now)
        verified = certificates.verify_chain([leaf, *intermediates], roots, crls, now)
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
