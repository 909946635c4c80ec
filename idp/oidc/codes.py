"""Authorization codes in the Store: single use, short-lived, bound to client and redirect.

RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server
MUST deny the request and SHOULD revoke (when possible) all tokens previously issued based
on that authorization code." A code is redeemed with `Store.replace`: one atomic command
swaps the code for a used-marker naming the grant id (``gid``) its tokens carry, and only
the first redemption gets the code back; a later one gets the marker and revokes that
grant. The code itself is never stored in clear: the Store key is its keyed digest.

The marker is written before the code is read, so it must not depend on the code's
content: the grant id is derived from the code (keyed, like the key), and the marker names
the client presenting the code — corrected afterwards in the rare case that is not the
code's own client, so a reuse is audited against the client the code was issued to.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields
from typing import Any

from idp.crypto import keyed_digest, random_token
from idp.store import Batch, Store, set_json

USED_MARKER_TTL = 24 * 3600  # how long a reuse can still revoke the grant


@dataclass
class AuthorizationCode:
    """What a code stands for; implements authlib's OIDC ``AuthorizationCodeMixin``."""

    client_id: str
    redirect_uri: str
    scope: str
    person_id: int
    epoch: int
    sid: str | None
    auth_time: int
    acr: str
    amr: list[str] = field(default_factory=list)
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    gid: str = field(default_factory=lambda: random_token(18))
    # The legal person this authorization acts for (idp/oidc/acting.py `ActingRef`), or None.
    acting: dict[str, Any] | None = None
    issued_at: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str:
        return self.acr

    def get_amr(self) -> list[str]:
        return self.amr

    def as_json_object(self) -> dict[str, Any]:
        """``dataclasses.asdict`` without its deep copy (the dict is serialised at once):
        the same keys in the same order (bench/README.md, round 6)."""
        return {name: getattr(self, name) for name in _CODE_FIELDS}


_CODE_FIELDS = tuple(f.name for f in fields(AuthorizationCode))


@dataclass(frozen=True)
class Redemption:
    """What presenting a code found: the code (redeemed now), or the grant of a code
    redeemed before (``reused``: ``gid`` and ``client_id``), or neither (unknown,
    expired)."""

    code: AuthorizationCode | None = None
    reused: dict[str, Any] | None = None


class CodeStore:
    def __init__(self, store: Store, secret_key: str, ttl: int) -> None:
        self._store = store
        self._secret = secret_key
        self.ttl = ttl

    def _digest(self, code: str) -> str:
        return keyed_digest(self._secret, f"code\x00{code}")

    def _gid(self, digest: str) -> str:
        """The grant id of a code: derived, so the used-marker can be written blind."""
        return keyed_digest(self._secret, f"gid\x00{digest}")[:32]

    def save(self, code: str, data: AuthorizationCode, writes: Batch | None = None) -> None:
        """Store ``code``; with ``writes``, queued with the request's other Store writes."""
        digest = self._digest(code)
        data.gid = self._gid(digest)
        key = f"oidc-code:{digest}"
        if writes is not None:
            writes.set_json(key, data.as_json_object(), self.ttl)
        else:
            set_json(self._store, key, data.as_json_object(), self.ttl)

    def redeem(self, code: str, client_id: str) -> Redemption:
        """Redeem ``code`` once, presented by ``client_id``: one Store command (one more
        for a reuse, or for a code presented by a client it was not issued to).

        The caller still checks that the code belongs to ``client_id``; a code presented
        by another client is burned all the same, as a stolen code must be.
        """
        if not isinstance(code, str) or not code or len(code) > 128:
            return Redemption()
        digest = self._digest(code)
        key = f"oidc-code:{digest}"
        marker = self._marker(self._gid(digest), client_id, int(time.time()) + USED_MARKER_TTL)
        raw = self._store.replace(key, marker, USED_MARKER_TTL)
        data = _json_object(raw)
        if data is None:
            return Redemption()
        if data.get("used"):
            self._restore(key, raw, data)  # a reuse leaves the first marker as it was
            gid = data.get("gid")
            return Redemption(reused={  # a marker of another shape still revokes this grant
                "gid": gid if isinstance(gid, str) and gid else self._gid(digest),
                "client_id": str(data.get("client_id") or "")})
        try:
            found = AuthorizationCode(**data)
        except TypeError:  # not a code this version wrote: unknown, as a missing one
            return Redemption()
        if found.client_id != client_id or found.gid != self._gid(digest):
            self._store.set(key, self._marker(found.gid, found.client_id,
                                              int(time.time()) + USED_MARKER_TTL),
                            USED_MARKER_TTL)
        if found.issued_at + self.ttl < time.time():
            return Redemption()
        return Redemption(code=found)

    @staticmethod
    def _marker(gid: str, client_id: str, until: int) -> str:
        return json.dumps({"used": 1, "gid": gid, "client_id": client_id, "until": until},
                          separators=(",", ":"))

    def _restore(self, key: str, raw: str | None, data: dict[str, Any]) -> None:
        left = int(data.get("until", 0)) - int(time.time())
        if raw is not None and left > 0:
            self._store.set(key, raw, left)
        else:
            self._store.delete(key)


def _json_object(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested beyond the parser's depth
        return None
    return data if isinstance(data, dict) else None
