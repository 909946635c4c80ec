"""The relying-party side of the authorization-code flow, framework-free (OIDC Core §3.1).

Built on authlib's requests client (`OAuth2Session`): PKCE S256 (RFC 7636), ``state`` and
``nonce``, the ``iss`` response parameter (RFC 9207 §2.4), ID token verification, userinfo,
refresh and the RP-initiated logout URL. The Flask extension and the WSGI middleware keep
the `Pending` request and the session data; this module only speaks the protocol.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlencode

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwk

from idp_connector.config import ConnectorConfig
from idp_connector.identity import acr_for_level, level_of
from idp_connector.tokens import TokenError, verify_id_token

PENDING_TTL = 15 * 60  # seconds a started sign-in may take (the platform's own limit)


class LoginError(Exception):
    """Sign-in did not complete; ``error`` is an OAuth/OIDC error code or our own."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


class PlatformUnavailable(LoginError):
    """The platform could not be reached (network, timeout, 5xx)."""

    def __init__(self, description: str = "") -> None:
        super().__init__("temporarily_unavailable", description)


class OidcClient:
    """One registered client of the platform; thread-safe, one per application."""

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None

    # ---- platform metadata and keys -------------------------------------------------------
    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            resp = requests.get(url, timeout=self.config.timeout)
            resp.raise_for_status()
            data = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise PlatformUnavailable(f"{url}: {type(exc).__name__}") from exc
        if not isinstance(data, dict):
            raise PlatformUnavailable(f"{url}: not a JSON object")
        return data

    def metadata(self) -> dict[str, Any]:
        """The platform's discovery document (OIDC Discovery §4), fetched once."""
        with self._lock:
            cached = self._metadata
        if cached is None:
            issuer = self.config.issuer.rstrip("/")
            cached = self._get_json(f"{issuer}/.well-known/openid-configuration")
            if cached.get("issuer") != self.config.issuer:
                # Discovery §4.3: the document must name exactly the configured issuer.
                raise PlatformUnavailable("discovery issuer does not match the configuration")
            with self._lock:
                self._metadata = cached
        return cached

    def jwks(self, force: bool = False) -> dict[str, Any]:
        """The platform's signing keys; ``force`` refetches (key rotation)."""
        with self._lock:
            cached = None if force else self._jwks
        if cached is None:
            cached = self._get_json(self.metadata()["jwks_uri"])
            with self._lock:
                self._jwks = cached
        return cached

    def _session(self, **kwargs: Any) -> OAuth2Session:
        cfg = self.config
        secret: Any = cfg.client_secret
        if cfg.token_endpoint_auth_method == "private_key_jwt":
            secret = jwk.import_key(cast(Any, cfg.private_key))  # authlib wants a key object
        session = OAuth2Session(
            client_id=cfg.client_id, client_secret=secret, scope=cfg.scope,
            redirect_uri=cfg.redirect_uri, code_challenge_method="S256",
            token_endpoint_auth_method=cfg.token_endpoint_auth_method,
            default_timeout=cfg.timeout, **kwargs)
        if cfg.token_endpoint_auth_method == "private_key_jwt":
            from authlib.oauth2.rfc7523 import PrivateKeyJWT

            session.register_client_auth_method(
                PrivateKeyJWT(self.metadata()["token_endpoint"],
                              alg=(cfg.private_key or {}).get("alg")))
        return session

    # ---- sign-in ------------------------------------------------------------------------
    def begin(self, return_to: str = "/", level: int | None = None,
              prompt: str | None = None) -> tuple[str, dict[str, Any]]:
        """The authorization URL and the pending request to keep for the callback."""
        pending = {"state": secrets.token_urlsafe(24), "nonce": secrets.token_urlsafe(24),
                   "code_verifier": generate_token(64), "return_to": return_to,
                   "level": level, "started": time.time()}
        extra: dict[str, Any] = {"nonce": pending["nonce"]}
        if level is not None:
            extra["acr_values"] = acr_for_level(level)  # step-up (OIDC Core §3.1.2.1)
        if prompt:
            extra["prompt"] = prompt
        with self._session() as session:
            url, _ = session.create_authorization_url(
                self.metadata()["authorization_endpoint"], state=pending["state"],
                code_verifier=pending["code_verifier"], **extra)
        return url, pending

    def _check_response(self, pending: Mapping[str, Any] | None,
                        params: Mapping[str, str]) -> str:
        if not pending or time.time() - float(pending.get("started", 0)) > PENDING_TTL:
            raise LoginError("no_pending_request", "sign-in was not started here or timed out")
        state = params.get("state", "")
        if not hmac.compare_digest(state.encode(), str(pending["state"]).encode()):
            raise LoginError("state_mismatch", "the response is not for this browser")
        # RFC 9207 §2.4: the platform announces the iss parameter, so it must be present
        # and equal to the issuer; this defeats mix-up attacks.
        if (self.metadata().get("authorization_response_iss_parameter_supported")
                or "iss" in params) and params.get("iss") != self.config.issuer:
            raise LoginError("issuer_mismatch", "the response is from another issuer")
        if params.get("error"):
            raise LoginError(params["error"][:64], params.get("error_description", "")[:300])
        code = params.get("code")
        if not code:
            raise LoginError("invalid_response", "no authorization code")
        return code

    def finish(self, pending: Mapping[str, Any] | None,
               params: Mapping[str, str]) -> dict[str, Any]:
        """Redeem the code and return the session data: claims and tokens (§3.1.3)."""
        code = self._check_response(pending, params)
        assert pending is not None
        try:
            with self._session() as session:
                token = session.fetch_token(self.metadata()["token_endpoint"], code=code,
                                            code_verifier=pending["code_verifier"],
                                            grant_type="authorization_code")
        except OAuthError as exc:
            raise LoginError(exc.error or "invalid_grant", exc.description or "") from exc
        except requests.RequestException as exc:
            raise PlatformUnavailable(type(exc).__name__) from exc
        try:
            claims = verify_id_token(token.get("id_token", ""), load_jwks=self.jwks,
                                     issuer=self.config.issuer,
                                     client_id=self.config.client_id, nonce=pending["nonce"])
        except TokenError as exc:
            raise LoginError("invalid_id_token", str(exc)) from exc
        wanted = pending.get("level")
        if wanted and (level_of(claims.get("acr")) or 0) < int(wanted):
            raise LoginError("insufficient_level", f"real-name level {wanted} was not reached")
        claims.update(self.userinfo(token["access_token"], claims["sub"]))
        return _session_data(claims, token)

    def userinfo(self, access_token: str, sub: str) -> dict[str, Any]:
        """Userinfo claims; ``sub`` must match the ID token's (OIDC Core §5.3.4)."""
        try:
            resp = requests.get(self.metadata()["userinfo_endpoint"], timeout=self.config.timeout,
                                headers={"Authorization": f"Bearer {access_token}"})
            resp.raise_for_status()
            info = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise PlatformUnavailable(f"userinfo: {type(exc).__name__}") from exc
        if not isinstance(info, dict) or info.get("sub") != sub:
            raise LoginError("invalid_userinfo", "userinfo is for another subject")
        return info

    def refresh(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """New tokens for a session (RFC 6749 §6); the platform rotates the refresh token."""
        refresh_token = data.get("refresh_token")
        if not refresh_token:
            raise LoginError("no_refresh_token", "the client has no refresh_token grant")
        try:
            with self._session() as session:
                token = session.refresh_token(self.metadata()["token_endpoint"],
                                              refresh_token=refresh_token)
        except OAuthError as exc:
            raise LoginError(exc.error or "invalid_grant", exc.description or "") from exc
        except requests.RequestException as exc:
            raise PlatformUnavailable(type(exc).__name__) from exc
        return _session_data(dict(data["claims"]), token, keep=data)

    def logout_url(self, id_token: str | None, state: str | None = None) -> str:
        """The platform's end-session URL (OIDC RP-Initiated Logout 1.0 §2)."""
        params = {"client_id": self.config.client_id,
                  "post_logout_redirect_uri": self.config.post_logout_redirect_uri}
        if id_token:
            params["id_token_hint"] = id_token
        if state:
            params["state"] = state
        return f"{self.metadata()['end_session_endpoint']}?{urlencode(params)}"


def _session_data(claims: dict[str, Any], token: Mapping[str, Any],
                  keep: Mapping[str, Any] | None = None) -> dict[str, Any]:
    keep = keep or {}
    expires_in = int(token.get("expires_in") or 0)
    return {"claims": claims, "access_token": token["access_token"],
            "id_token": token.get("id_token") or keep.get("id_token"),
            "refresh_token": token.get("refresh_token") or keep.get("refresh_token"),
            "expires_at": time.time() + expires_in if expires_in else None}
