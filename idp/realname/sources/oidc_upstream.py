"""The trusted official platform as an OIDC upstream for linked registration (R-12).

A plain relying-party code flow (OIDC Core §3.1) with PKCE S256 (RFC 7636) and a confidential
client (client_secret_basic, RFC 6749 §2.3.1). The ID token is verified against the
upstream's JWKS (ES256) before any claim is believed; the real-name claims come from the
ID token and must agree with userinfo on ``sub`` (OIDC Core §5.3.2).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.crypto import mask_id_number
from idp.realname.sources.results import (
    Authority,
    AuthorityRejected,
    AuthorityUnavailable,
    LinkedIdentity,
)

log = logging.getLogger(__name__)
_AUTH = Authority.TRUSTED_PLATFORM
_REQUIRED_CLAIMS = ("name", "id_document_type", "id_document_number")
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass(frozen=True)
class TrustedPlatformConfig:
    """The registered client at the trusted platform."""

    issuer: str
    client_id: str
    client_secret: str
    scope: str = "openid profile realname"
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    clock_leeway: int = 60
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.issuer)
        if parts.scheme != "https" and not (parts.scheme == "http"
                                            and parts.hostname in _LOOPBACK):
            raise ValueError("trusted platform issuer must use https outside loopback")
        if not self.client_id or not self.client_secret:
            raise ValueError("trusted platform client id and secret are required")


def code_challenge(verifier: str) -> str:
    """PKCE S256 challenge (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class OidcTrustedPlatform:
    """Relying-party client for the trusted platform; discovery and JWKS cached in memory."""

    def __init__(self, config: TrustedPlatformConfig,
                 session: requests.Session | None = None) -> None:
        self.config = config
        self._session = session or requests.Session()
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    # -- front channel ---------------------------------------------------------------------

    def authorization_url(self, redirect_uri: str, *, state: str, nonce: str,
                          code_verifier: str, login_hint: str | None = None) -> str:
        params = {"response_type": "code", "client_id": self.config.client_id,
                  "redirect_uri": redirect_uri, "scope": self.config.scope, "state": state,
                  "nonce": nonce, "code_challenge": code_challenge(code_verifier),
                  "code_challenge_method": "S256"}
        if login_hint:
            params["login_hint"] = login_hint
        return f"{self.metadata()['authorization_endpoint']}?{urlencode(params)}"

    # -- back channel ----------------------------------------------------------------------

    def complete(self, code: str, redirect_uri: str, *, nonce: str,
                 code_verifier: str) -> LinkedIdentity:
        tokens = self._redeem(code, redirect_uri, code_verifier)
        claims = self._verify_id_token(tokens.get("id_token"), nonce)
        userinfo = self._request("GET", self.metadata()["userinfo_endpoint"], headers={
            "Authorization": f"Bearer {tokens.get('access_token', '')}"})
        if userinfo.get("sub") != claims["sub"]:
            raise AuthorityRejected(_AUTH, "userinfo subject differs", code="sub_mismatch")
        return self._identity(claims, userinfo)

    def _redeem(self, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        if not code:
            raise AuthorityRejected(_AUTH, "no authorization code", code="invalid_request")
        return self._request("POST", self.metadata()["token_endpoint"], data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier},
            auth=(self.config.client_id, self.config.client_secret))

    def _verify_id_token(self, id_token: Any, nonce: str) -> dict[str, Any]:
        """Verify signature and claims (OIDC Core §3.1.3.7); refetch JWKS once on a new kid."""
        if not isinstance(id_token, str):
            raise AuthorityRejected(_AUTH, "no ID token", code="invalid_id_token")
        try:
            try:
                token = jwt.decode(id_token, self._jwks(), algorithms=["ES256"])
            except JoseError:
                token = jwt.decode(id_token, self._jwks(refresh=True), algorithms=["ES256"])
            jwt.JWTClaimsRegistry(
                leeway=self.config.clock_leeway,
                iss={"essential": True, "value": self.config.issuer},
                aud={"essential": True, "value": self.config.client_id},
                nonce={"essential": True, "value": nonce},
                sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise AuthorityRejected(_AUTH, f"ID token refused: {type(exc).__name__}",
                                    code="invalid_id_token") from exc
        return dict(token.claims)

    def _identity(self, claims: dict[str, Any], userinfo: dict[str, Any]) -> LinkedIdentity:
        merged = {**userinfo, **claims}  # the signed ID token wins over userinfo
        if not all(isinstance(merged.get(c), str) and merged[c] for c in _REQUIRED_CLAIMS):
            raise AuthorityRejected(_AUTH, "real-name claims missing", code="missing_claims")
        phone = merged.get("phone_number")
        identity = LinkedIdentity(
            issuer=self.config.issuer, subject=str(claims["sub"]), name=merged["name"],
            document_type=merged["id_document_type"],
            document_number=merged["id_document_number"], acr=str(claims.get("acr", "")),
            phone=phone if isinstance(phone, str) and phone else None)
        log.info("trusted platform identity %s (acr %s)",
                 mask_id_number(identity.document_number), identity.acr or "-")
        return identity

    # -- metadata and keys -----------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """Provider metadata (OIDC Discovery §4); the issuer must be the configured one."""
        with self._lock:
            if self._metadata is None:
                url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
                meta = self._request("GET", url)
                if meta.get("issuer") != self.config.issuer:
                    raise AuthorityRejected(_AUTH, "discovery issuer differs",
                                            code="issuer_mismatch")
                self._metadata = meta
            return self._metadata

    def _jwks(self, refresh: bool = False) -> KeySet:
        with self._lock:
            cached = self._keys
        if cached is not None and not refresh:
            return cached
        data = self._request("GET", self.metadata()["jwks_uri"])
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise AuthorityUnavailable(_AUTH, "JWKS unusable", code="bad_answer") from exc
        with self._lock:
            self._keys = keys
        return keys

    def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """One HTTP exchange; timeouts and 5xx are Unavailable, 4xx Rejected."""
        cfg = self.config
        try:
            resp = self._session.request(
                method, url, timeout=(cfg.connect_timeout, cfg.read_timeout),
                allow_redirects=False, verify=cfg.ca_bundle or True, **kwargs)
        except requests.Timeout as exc:
            raise AuthorityUnavailable(_AUTH, "timed out", code="timeout") from exc
        except requests.RequestException as exc:
            raise AuthorityUnavailable(_AUTH, "unreachable", code="unreachable") from exc
        try:
            data = resp.json()
        except ValueError:
            data = None
        error = data.get("error", "") if isinstance(data, dict) else ""
        if resp.status_code >= 500:
            raise AuthorityUnavailable(_AUTH, f"answered {resp.status_code}", code=str(error))
        if resp.status_code != 200:
            raise AuthorityRejected(_AUTH, f"answered {resp.status_code} {error}",
                                    code=str(error))
        if not isinstance(data, dict):
            raise AuthorityUnavailable(_AUTH, "answer is not a JSON object", code="bad_answer")
        return data
