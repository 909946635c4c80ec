"""Check a department system's registered URIs (issue 7 item 6, R-60; docs/integration §11).

Pure functions over the registration (`idp.oidc.clients.describe`): each rule of the
integration specification §10 that can be checked from outside becomes one `Check`. The
back-channel logout endpoint is also probed: a receiver that verifies logout tokens answers
400 to a token that is not one (Back-Channel Logout 1.0 §2.8).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

PROBE_TIMEOUT = 5.0
PROBE_TOKEN = "selfcheck.not-a.logout-token"  # syntactically a JWT, never valid


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, on which URI, and whether it passed."""

    rule: str
    target: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_loopback(host: str | None) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_uri(kind: str, uri: str) -> list[Check]:
    """Static rules for one registered URI: https, no fragment, no wildcard, absolute."""
    parts = urlsplit(uri)
    found = []
    secure = parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname))
    found.append(Check(f"{kind}:https", uri, secure,
                       "HTTPS (or loopback http for development)" if secure
                       else "must use https:// (only loopback may use http://)"))
    found.append(Check(f"{kind}:no-fragment", uri, not parts.fragment,
                       "no fragment" if not parts.fragment else "must not contain #fragment"))
    wild = "*" in uri
    found.append(Check(f"{kind}:exact", uri, not wild,
                       "exact URI" if not wild else "wildcards are not allowed"))
    absolute = bool(parts.scheme and parts.netloc)
    found.append(Check(f"{kind}:absolute", uri, absolute,
                       "absolute URI" if absolute else "must be an absolute URI"))
    return found


Poster = Callable[[str, dict[str, str]], int]


def _post(url: str, data: dict[str, str]) -> int:
    resp = requests.post(url, data=data, timeout=PROBE_TIMEOUT, allow_redirects=False)
    return resp.status_code


def probe_backchannel(uri: str, post: Poster = _post) -> Check:
    """POST an invalid logout token: a correct receiver answers 400, not 2xx or 3xx."""
    try:
        status = post(uri, {"logout_token": PROBE_TOKEN})
    except requests.RequestException as exc:
        return Check("backchannel:reachable", uri, False,
                     f"not reachable from the platform ({type(exc).__name__})")
    if status == 400:
        return Check("backchannel:rejects-invalid", uri, True, "invalid logout token → 400")
    if 200 <= status < 400:
        return Check("backchannel:rejects-invalid", uri, False,
                     f"accepted an invalid logout token (HTTP {status}); verify the signature")
    return Check("backchannel:rejects-invalid", uri, False,
                 f"answered HTTP {status}; expected 400 for an invalid logout token")


def check_registration(registration: dict[str, Any], *, network: bool = True,
                       post: Poster = _post) -> list[Check]:
    """Every check for one client's registration (`describe()` output)."""
    found: list[Check] = []
    redirects = registration.get("redirect_uris") or []
    if not redirects:
        found.append(Check("redirect:registered", "-", False, "no redirect URI registered"))
    for uri in redirects:
        found += check_uri("redirect", uri)
    for uri in registration.get("post_logout_redirect_uris") or []:
        found += check_uri("post-logout", uri)
    backchannel = registration.get("backchannel_logout_uri")
    if not backchannel:
        found.append(Check("backchannel:registered", "-", False,
                           "no back-channel logout URI: sign-out elsewhere will not reach "
                           "this system"))
        return found
    found += check_uri("backchannel", backchannel)
    if network:
        found.append(probe_backchannel(backchannel, post))
    return found
