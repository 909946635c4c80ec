"""Typed settings read from ``IDP_*`` environment variables (DESIGN.md, "Fixed choices").

Every setting has an embedded default so ``idp demo`` runs with nothing configured:
SQLite under ``var/``, the in-process store and the SMS outbox.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VAR_DIR = Path(os.environ.get("IDP_VAR_DIR", "var")).resolve()

# Development-only keys. `Settings.check_production` refuses them outside debug/testing.
_DEV_SECRET = "dev-secret-key-change-me-0123456789abcdef"
_DEV_DATA_KEY = base64.b64encode(b"dev-data-key-change-me-32bytes!!").decode()


class SettingsError(ValueError):
    """A setting has a value the platform cannot run with."""


@dataclass(frozen=True)
class Settings:
    """All configuration of one node; built by `Settings.from_env` or directly in tests."""

    issuer: str = "http://127.0.0.1:5000"
    database_url: str = f"sqlite:///{VAR_DIR / 'idp.sqlite3'}"
    redis_url: str = ""  # empty: in-process store
    redis_prefix: str = "idp:"  # several nodes (or test runs) can share one Redis
    # Userinfo/introspection keep persons in process memory, checked against versions in
    # the Store (idp/oidc/person_cache.py). "auto": on with Redis; off with the in-process
    # store, whose versions another process (an `idp` command, a second server) cannot move.
    person_cache: str = "auto"  # auto | on | off
    # The machine hot paths answered without Flask when plainly well-formed (idp/oidc/express.py).
    express_lane: bool = True
    secret_key: str = _DEV_SECRET
    data_key: str = _DEV_DATA_KEY  # base64 of 32 bytes; personal data encryption
    data_cipher: str = "aes-256-gcm"  # or "sm4-gcm"
    sms_gateway_url: str = ""  # empty: outbox (log + development page)
    debug: bool = False
    testing: bool = False
    secure_cookies: bool = True
    default_locale: str = "zh_CN"

    # Sessions (seconds)
    session_idle_timeout: int = 30 * 60
    session_absolute_lifetime: int = 12 * 3600

    # Tokens (seconds)
    access_token_ttl: int = 600
    id_token_ttl: int = 600
    refresh_token_ttl: int = 30 * 86400
    authorization_code_ttl: int = 60
    login_transaction_ttl: int = 15 * 60
    signing_alg: str = "ES256"

    # Password hashing (argon2id, OWASP minimum m=19 MiB, t=2, p=1)
    argon2_memory_kib: int = 19 * 1024
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1

    # Guessable secrets: lockout and throttling
    password_max_failures: int = 5  # per account, then locked
    lockout_seconds: int = 15 * 60
    address_max_failures: int = 50  # per source address per window
    address_window_seconds: int = 15 * 60
    sms_code_ttl: int = 5 * 60
    sms_code_max_attempts: int = 5
    sms_per_phone_interval: int = 60  # at most one code per phone per interval
    sms_per_phone_daily: int = 10
    sms_per_address_hourly: int = 20
    totp_max_failures: int = 5

    # Staff directory (issue 5 item 1; idp/staff). Empty ldap_url: the embedded local table.
    ldap_url: str = ""  # ldap://host:389 or ldaps://host:636
    ldap_bind_dn: str = ""  # service account that searches users and groups; empty: anonymous
    ldap_bind_password: str = ""
    ldap_base_dn: str = ""
    ldap_user_base: str = ""  # empty: ou=people,<ldap_base_dn>
    ldap_group_base: str = ""  # empty: ou=groups,<ldap_base_dn>
    ldap_user_filter: str = "(&(objectClass=inetOrgPerson)(uid={username}))"
    ldap_group_filter: str = "(&(objectClass=groupOfNames)(member={dn}))"
    ldap_department_attribute: str = "departmentNumber"  # else the user's nearest ou= RDN
    ldap_role_map: str = ""  # JSON {"group cn or DN": "role"} or "cn=role;…"; empty: cn = role
    ldap_start_tls: bool = False
    ldap_ca_file: str = ""  # PEM bundle to verify the directory's certificate
    ldap_timeout_seconds: int = 5
    staff_max_failures: int = 5  # per staff username, then locked for staff_lockout_seconds
    staff_lockout_seconds: int = 15 * 60
    staff_enrolment_code_ttl: int = 24 * 3600  # one-time code of a TOTP reset (admin_ui)
    staff_address_max_failures: int = 30  # per source address per window (a hall shares NAT)
    staff_address_window_seconds: int = 15 * 60
    breakglass_policy: str = "directory_down"  # or "always", "off"

    # Federation of national / province / city nodes (issue 6; idp/federation, R-62).
    federation_level: str = ""  # national | province | city; empty: not federated
    federation_region: str = ""  # GB/T 2260 division code; 000000 for the national node
    federation_parent: str = ""  # the parent node's entity id (URL); empty for national
    federation_anchor_jwks: str = ""  # trust anchor's public JWKS: JSON text or a file path
    federation_mode: str = "separate"  # separate | unified_separate | unified
    federation_directory_key: str = ""  # base64 of 32 bytes, one for the whole federation
    federation_statement_ttl: int = 24 * 3600  # lifetime of statements this node signs
    federation_http_timeout: int = 5  # seconds per node-to-node HTTP call
    federation_lookups_per_minute: int = 600  # directory lookups per requester
    federation_registrations_per_minute: int = 600  # directory registrations per requester
    federation_outbox_interval: int = 5  # seconds between outbox rounds; 0: cron only
    federation_outbox_retry_base: int = 10  # first retry delay, doubled per failure
    federation_outbox_retry_max: int = 3600  # longest delay between retries
    # Brokered logins (issue 6 item 3; idp/federation/rp.py, peer_clients.py).
    federation_max_level_from_peers: int = 3  # cap on a real-name level vouched by a peer
    federation_peer_scope: str = "openid profile phone realname idcard"  # asked of / given to peers
    federation_accept_peers: bool = True  # peer nodes may use this node as their OP
    # http:// entity ids for loopback development and tests only; production is https.
    federation_allow_http: bool = False

    # Real-name registration (issue 3; idp/realname, R-10, R-12). Empty authority_url: the
    # verification authorities are not configured and online registration is closed.
    authority_url: str = ""  # gateway of the element checks (the bundled simulator in demo)
    authority_client_id: str = "idp"
    authority_key: str = ""  # HMAC key shared with the authorities (docs/authorities.md)
    authority_read_timeout_ms: int = 5000
    trusted_platforms: str = ""  # JSON list of {name, issuer, client_id, client_secret, levels}
    agreement_version: str = "2024-01"  # idp/realname/agreements/<version>.zh.txt
    registration_ttl: int = 30 * 60  # an unfinished registration is forgotten after this
    # Counter phone change (R-41, issue 5 hardening): after it, SMS login and SMS password
    # recovery stay closed this long, so a takeover through the counter cannot be finished
    # online at once; the old number is told, naming this hotline.
    counter_phone_cooloff_seconds: int = 24 * 3600
    service_hotline: str = "12345"
    registration_checks_per_document_daily: int = 10  # authority checks per document number
    registration_checks_per_address_hourly: int = 60  # authority checks per source address

    # More login methods (issue 3 item 5): QR-code login, face login, step-up.
    qr_ticket_ttl: int = 120  # seconds a login QR code stays valid
    qr_tickets_per_address: int = 30  # QR codes one source address may create per window
    qr_tickets_window_seconds: int = 10 * 60
    qr_app_clients: str = ""  # client ids (space/comma separated) allowed to confirm QR logins
    face_failures_per_document: int = 5  # failed face logins per document number per window
    face_failures_per_address: int = 20  # failed face logins per source address per window
    face_window_seconds: int = 3600

    # Staff console (issue 5; admin_ui): its own session cookie ``idp_staff``, shorter-lived
    # than citizens' SSO; JSON API callers (counter systems) get opaque bearer tokens.
    staff_session_idle_timeout: int = 15 * 60
    staff_session_absolute_lifetime: int = 8 * 3600
    staff_api_token_lifetime: int = 3600  # absolute; the idle timeout above applies too
    staff_recheck_seconds: int = 300  # re-read a signed-in staff member from the directory

    # Legal-person accounts opened online (issue 4 items 2, 3; idp/orgs, R-20, R-21, R-23).
    business_registry_url: str = ""  # empty: the authority gateway (authority_url)
    elicence_issuer_jwks: str = ""  # e-licence issuer's public JWKS: JSON text or a file path
    elicence_issuer: str = ""  # expected ``iss`` of e-licences; empty: not checked
    org_ca_roots: str = ""  # enterprise CA root certificates: PEM text or a PEM file path
    org_crl_sources: str = ""  # CRLs (PEM/DER): file paths or http(s) URLs, space separated
    org_crl_timeout_ms: int = 3000  # per CRL download; unavailable CRL = refused (fail closed)
    licence_image_max_bytes: int = 2 * 1024 * 1024  # uploaded business licence image
    org_review_days: int = 30  # old representative's grants stay valid this long unless kept
    org_checks_per_person_daily: int = 20  # registry / certificate checks per person per day
    # Enterprise certificate sign-in behind a TLS-terminating proxy (R-23; idp/orgs/x509_login).
    x509_proxies: str = ""  # CIDRs of proxies allowed to forward a client certificate; "": off
    x509_header: str = "X-Client-Cert"  # carries nginx's $ssl_client_escaped_cert
    x509_intermediates: str = ""  # enterprise CA intermediates: PEM text or a PEM file path
    x509_login_origin: str = ""  # origin of the certificate-requesting TLS server; "": same
    x509_failures_per_address: int = 10  # failed certificate sign-ins per address per window
    x509_attempts_per_address: int = 60  # all certificate sign-in requests per address per window
    # Shared with the certificate vhost (X-Client-Cert-Proxy-Secret); required with x509_proxies.
    x509_proxy_secret: str = ""
    x509_window_seconds: int = 900

    # Integration self-check page (issue 7 item 6; idp/integration): ID numbers, space or
    # comma separated, of the TEST citizens a department developer may sign in as. Empty:
    # the page is off (the default in production); `idp demo` sets the demo citizen.
    selfcheck_test_accounts: str = ""

    proxy_fix: int = 0  # number of trusted reverse proxies in front (X-Forwarded-*)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``IDP_<FIELD>`` variables, converting to each field's type."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f"IDP_{f.name.upper()}")
            if raw is None or f.name == "extra":
                continue
            values[f.name] = _convert(f.name, f.type, raw)
        values.update(overrides)
        return cls(**values)

    @property
    def data_key_bytes(self) -> bytes:
        try:
            key = base64.b64decode(self.data_key, validate=True)
        except ValueError as exc:
            raise SettingsError("IDP_DATA_KEY must be base64") from exc
        if len(key) != 32:
            raise SettingsError("IDP_DATA_KEY must decode to 32 bytes")
        return key

    @property
    def uses_development_keys(self) -> bool:
        return self.secret_key == _DEV_SECRET or self.data_key == _DEV_DATA_KEY

    def check(self) -> None:
        """Refuse settings that would be unsafe or cannot work."""
        self.data_key_bytes  # noqa: B018 - validates
        if self.person_cache not in ("auto", "on", "off"):
            raise SettingsError("IDP_PERSON_CACHE must be auto, on or off")
        if self.data_cipher not in ("aes-256-gcm", "sm4-gcm"):
            raise SettingsError("IDP_DATA_CIPHER must be aes-256-gcm or sm4-gcm")
        if self.signing_alg not in ("ES256", "RS256"):
            raise SettingsError("IDP_SIGNING_ALG must be ES256 or RS256")
        self._check_numbers()
        self._check_x509_proxies()
        if not (self.debug or self.testing) and self.uses_development_keys:
            raise SettingsError(
                "IDP_SECRET_KEY and IDP_DATA_KEY must be set outside debug/testing"
            )


    def _check_x509_proxies(self) -> None:
        import ipaddress

        for part in self.x509_proxies.replace(",", " ").split():
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError as exc:
                raise SettingsError("IDP_X509_PROXIES must list IP addresses or CIDRs") from exc
        if self.x509_proxies.strip() and len(self.x509_proxy_secret) < 32:
            # Without it any vhost proxying from a trusted address could forward a forged
            # certificate header (docs/operations.md §9).
            raise SettingsError("IDP_X509_PROXY_SECRET (at least 32 characters) is required "
                                "when IDP_X509_PROXIES is set")

    def _check_numbers(self) -> None:
        """No negative durations or limits; argon2 parameters it accepts (RFC 9106 §3.1)."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if type(value) is int and value < 0:
                raise SettingsError(f"IDP_{f.name.upper()} must not be negative")
        if self.argon2_time_cost < 1 or self.argon2_parallelism < 1:
            raise SettingsError("IDP_ARGON2_TIME_COST and IDP_ARGON2_PARALLELISM must be ≥ 1")
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            raise SettingsError("IDP_ARGON2_MEMORY_KIB must be at least 8 × parallelism")


def _convert(name: str, type_: Any, raw: str) -> Any:
    type_name = type_ if isinstance(type_, str) else getattr(type_, "__name__", str(type_))
    if type_name == "bool":
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"IDP_{name.upper()} must be true or false")
    if type_name == "int":
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingsError(f"IDP_{name.upper()} must be a whole number") from exc
    return raw
