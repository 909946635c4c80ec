"""Signed JSON-over-HTTPS POST to an authority, with failures mapped to typed errors.

One request, no retries: a check is a billable, audited act at the authority, and a retry
after a read timeout could count twice; the person decides to retry (docs/authorities.md).
Nothing personal is logged here: only authority, path, status and elapsed time.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from idp.realname.sources.results import Authority, AuthorityRejected, AuthorityUnavailable
from idp.realname.sources.signing import signed_headers

log = logging.getLogger(__name__)

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach one authority.

    Plain HTTP is refused except on loopback (the bundled simulator) because the bodies carry
    names and ID numbers (R-70).
    """

    base_url: str
    client_id: str
    key: str
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"authority URL must be absolute http(s): {self.base_url!r}")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            raise ValueError("authority URL must use https outside loopback")
        if not self.key or not self.client_id:
            raise ValueError("authority client id and key are required")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("authority timeouts must be positive")


class SignedJsonClient:
    """POST signed JSON to one authority and return the decoded 200 answer."""

    def __init__(self, authority: Authority, endpoint: Endpoint,
                 session: requests.Session | None = None) -> None:
        self.authority = authority
        self._endpoint = endpoint
        self._base_path = urlsplit(endpoint.base_url).path.rstrip("/")
        self._session = session or requests.Session()

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send ``payload`` to ``path``; raise AuthorityUnavailable / AuthorityRejected."""
        ep = self._endpoint
        full_path = self._base_path + path
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = signed_headers(ep.client_id, ep.key.encode(), "POST", full_path, body)
        headers["Content-Type"] = "application/json"
        url = ep.base_url.rstrip("/") + path
        started = time.monotonic()
        try:
            resp = self._session.post(
                url, data=body, headers=headers, allow_redirects=False,
                timeout=(ep.connect_timeout, ep.read_timeout),
                verify=ep.ca_bundle if ep.ca_bundle else True)
        except requests.Timeout as exc:
            self._log(path, "timeout", started)
            raise AuthorityUnavailable(self.authority, "timed out", code="timeout") from exc
        except requests.RequestException as exc:
            self._log(path, "unreachable", started)
            raise AuthorityUnavailable(self.authority, "unreachable", code="unreachable") from exc
        self._log(path, str(resp.status_code), started)
        return self._decode(resp)

    def _decode(self, resp: requests.Response) -> dict[str, Any]:
        code = _error_code(resp)
        if resp.status_code >= 500:
            raise AuthorityUnavailable(self.authority, f"answered {resp.status_code}", code=code)
        if resp.status_code != 200:
            raise AuthorityRejected(self.authority, f"answered {resp.status_code} {code}",
                                    code=code)
        try:
            data = resp.json()
        except ValueError as exc:
            raise AuthorityUnavailable(self.authority, "answer is not JSON",
                                       code="bad_answer") from exc
        if not isinstance(data, dict):
            raise AuthorityUnavailable(self.authority, "answer is not an object",
                                       code="bad_answer")
        return data

    def _log(self, path: str, outcome: str, started: float) -> None:
        elapsed = (time.monotonic() - started) * 1000
        log.info("authority %s %s: %s in %.0f ms", self.authority.value, path, outcome, elapsed)


def _error_code(resp: requests.Response) -> str:
    """The contract's ``error`` field if the body carries one, else the HTTP status."""
    try:
        data = resp.json()
    except ValueError:
        return str(resp.status_code) if resp.status_code != 200 else ""
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"][:64]
    return str(resp.status_code) if resp.status_code != 200 else ""
