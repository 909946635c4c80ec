"""The gateway as an OIDC relying party: code flow with PKCE, ID and logout token checks.

OIDC Core §3.1 (authorization code flow) with RFC 7636 PKCE S256, as a confidential client
(``client_secret_basic``, RFC 6749 §2.3.1). ID tokens are checked per OIDC Core §3.1.3.7;
logout tokens per OIDC Back-Channel Logout 1.0 §2.6. Keys come from the platform's
``jwks_uri``, refetched once when a key id is unknown (key rotation at the platform).
No web framework here: the WSGI layer (app.py) calls these functions.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from idp_gateway.config import GatewayConfig

ALGORITHMS = ["ES256", "RS256"]
LEEWAY = 60
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_MAX_AGE = 300
ACR_PREFIX = "urn:idp:acr:realname:"
METADATA_TTL = 3600


class LoginError(Exception):
    """The login did not complete; ``reason`` is safe to log (never a code or token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LogoutTokenError(ValueError):
    """The logout token is not valid (Back-Channel Logout §2.8: answer 400)."""


@dataclass(frozen=True)
class SignedIn:
    """What the gateway keeps about a person after a successful login."""

    sub: str
    sid: str | None
    name: str
    acr: str
    amr: list[str]
    id_token: str


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def level_of(acr: str | None) -> int:
    tail = (acr or "").removeprefix(ACR_PREFIX)
    return int(tail) if (acr or "").startswith(ACR_PREFIX) and tail.isdigit() else 0


def mask_name(name: str) -> str:
    """First character only (``张*``): the gateway never passes a full name on."""
    return name[:1] + "*" * (len(name) - 1) if name else ""


class Platform:
    """The identity platform as seen by one gateway: metadata and keys, cached."""

    def __init__(self, config: GatewayConfig, http: requests.Session | None = None) -> None:
        self.config = config
        self.http = http or requests.Session()
        self._lock = threading.Lock()
        self._meta: dict[str, Any] | None = None
        self._meta_at = 0.0
        self._jwks: dict[str, Any] | None = None

    def metadata(self) -> dict[str, Any]:
        """The discovery document (OIDC Discovery §4), refreshed hourly."""
        with self._lock:
            if self._meta is None or time.monotonic() - self._meta_at > METADATA_TTL:
                url = self.config.issuer + "/.well-known/openid-configuration"
                resp = self.http.get(url, timeout=self.config.http_timeout)
                resp.raise_for_status()
                meta = resp.json()
                if meta.get("issuer") != self.config.issuer:
                    raise LoginError("discovery issuer mismatch")
                self._meta, self._meta_at = meta, time.monotonic()
            return self._meta

    def keys(self, force: bool = False) -> KeySet:
        if force or self._jwks is None:
            resp = self.http.get(self.metadata()["jwks_uri"], timeout=self.config.http_timeout)
            resp.raise_for_status()
            self._jwks = resp.json()
        return KeySet.import_key_set(self._jwks)  # type: ignore[arg-type]

    def authorize_url(self, *, state: str, nonce: str, challenge: str) -> str:
        params = {"response_type": "code", "client_id": self.config.client_id,
                  "redirect_uri": self.config.redirect_uri, "scope": self.config.scope,
                  "state": state, "nonce": nonce, "code_challenge": challenge,
                  "code_challenge_method": "S256"}
        if self.config.min_level > 1:  # ask for the level up front (OIDC Core §3.1.2.1)
            params["acr_values"] = ACR_PREFIX + str(self.config.min_level)
        return self.metadata()["authorization_endpoint"] + "?" + urlencode(params)

    def end_session_url(self, id_token: str, state: str) -> str | None:
        endpoint = self.metadata().get("end_session_endpoint")
        if not endpoint:
            return None
        return endpoint + "?" + urlencode({
            "id_token_hint": id_token, "client_id": self.config.client_id, "state": state,
            "post_logout_redirect_uri": self.config.post_logout_redirect_uri})

    def decode(self, token: str) -> jwt.Token:
        """Verify a JWT's signature with the platform's keys (refetched once on a new kid)."""
        registry = JWSRegistry(algorithms=ALGORITHMS)
        try:
            return jwt.decode(token, self.keys(), registry=registry)
        except InvalidKeyIdError:
            return jwt.decode(token, self.keys(force=True), registry=registry)

    def finish_login(self, code: str, verifier: str, nonce: str) -> SignedIn:
        """Redeem the code (RFC 6749 §4.1.3 + PKCE), check the ID token, read userinfo."""
        try:
            tokens = self._redeem(code, verifier)
            claims = self._check_id_token(tokens.get("id_token"), nonce)
            info = self._userinfo(tokens.get("access_token"), claims["sub"])
        except (requests.RequestException, ValueError, KeyError, JoseError) as exc:
            raise LoginError(type(exc).__name__) from exc
        amr = claims.get("amr") or []
        return SignedIn(sub=claims["sub"], sid=claims.get("sid"),
                        name=mask_name(str(info.get("name") or claims.get("name") or "")),
                        acr=str(claims.get("acr") or ""),
                        amr=[str(m) for m in amr] if isinstance(amr, list) else [],
                        id_token=tokens["id_token"])

    def _redeem(self, code: str, verifier: str) -> dict[str, Any]:
        resp = self.http.post(
            self.metadata()["token_endpoint"], timeout=self.config.http_timeout,
            auth=(self.config.client_id, self.config.client_secret),
            data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                  "redirect_uri": self.config.redirect_uri})
        if resp.status_code != 200:
            error = resp.json().get("error", "") if resp.headers.get(
                "Content-Type", "").startswith("application/json") else ""
            raise LoginError(f"token endpoint answered {resp.status_code} {error}".strip())
        return resp.json()  # type: ignore[no-any-return]

    def _check_id_token(self, id_token: Any, nonce: str) -> dict[str, Any]:
        """OIDC Core §3.1.3.7: signature, iss, aud (azp), exp, iat, nonce."""
        if not isinstance(id_token, str):
            raise LoginError("no id_token")
        claims = self.decode(id_token).claims
        now = time.time()
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if claims.get("iss") != self.config.issuer or self.config.client_id not in audiences:
            raise LoginError("id_token issuer or audience mismatch")
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise LoginError("id_token azp mismatch")
        if not isinstance(claims.get("exp"), int) or claims["exp"] < now - LEEWAY:
            raise LoginError("id_token expired")
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise LoginError("id_token nonce mismatch")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise LoginError("id_token without sub")
        return claims

    def _userinfo(self, access_token: Any, sub: str) -> dict[str, Any]:
        endpoint = self.metadata().get("userinfo_endpoint")
        if not endpoint or not isinstance(access_token, str):
            return {}
        resp = self.http.get(endpoint, timeout=self.config.http_timeout,
                             headers={"Authorization": f"Bearer {access_token}"})
        if resp.status_code != 200:
            return {}
        info = resp.json()
        # OIDC Core §5.3.2: the userinfo sub MUST match the ID token's, else ignore it.
        return info if isinstance(info, dict) and info.get("sub") == sub else {}

    def check_logout_token(self, token: str) -> tuple[str | None, str | None, str, float]:
        """Back-Channel Logout §2.6: (sid, sub, jti, expires) of a valid logout token."""
        if not isinstance(token, str) or not token or len(token) > 16_384:
            raise LogoutTokenError("logout_token missing or too long")
        try:
            decoded = self.decode(token)
        except (JoseError, ValueError, requests.RequestException) as exc:
            raise LogoutTokenError(f"bad logout token: {type(exc).__name__}") from exc
        claims, now = decoded.claims, time.time()
        aud = claims.get("aud")
        if claims.get("iss") != self.config.issuer or not (
                aud == self.config.client_id or (isinstance(aud, list)
                                                 and self.config.client_id in aud)):
            raise LogoutTokenError("wrong issuer or audience")
        iat = claims.get("iat")
        if not isinstance(iat, int) or not now - LOGOUT_TOKEN_MAX_AGE <= iat <= now + LEEWAY:
            raise LogoutTokenError("iat missing or out of range")
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
            raise LogoutTokenError("not a back-channel logout event")
        if "nonce" in claims:  # §2.4: so an ID token can never pass for a logout token
            raise LogoutTokenError("nonce present")
        sid, sub, jti = claims.get("sid"), claims.get("sub"), claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise LogoutTokenError("jti missing")
        if not any(isinstance(v, str) and v for v in (sid, sub)):
            raise LogoutTokenError("neither sid nor sub")
        return (sid if isinstance(sid, str) else None, sub if isinstance(sub, str) else None,
                jti, float(iat + LOGOUT_TOKEN_MAX_AGE))
