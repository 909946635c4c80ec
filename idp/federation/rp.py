"""This node as an OIDC relying party of a peer node, through the trust chain (R-62).

Used by the separate mode (the home node found in the directory) and the unified-separate
mode (the parent province). Nothing about the peer is configured: its OP metadata and keys
come from its chain to the anchor (trust.py); we authenticate with ``private_key_jwt``
under our federation key (peer_auth.py), which the peer accepts because our entity id
chains to the same anchor (peer_clients.py on its side).

Flow: `start` (authorization code + PKCE S256 + nonce + state, OIDC Core §3.1.2) →
`finish` (token request, ID token checks of OIDC Core §3.1.3.7, userinfo). Back-channel
logout tokens from a peer are checked by `verify_logout_token` (Back-Channel Logout §2.6).
No Flask here: the views live in idp/web/federated.py.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.crypto import random_token
from idp.federation import entity
from idp.federation.node import FederationNode
from idp.federation.peer_auth import ASSERTION_TYPE, create_assertion
from idp.federation.trust import TrustError
from idp.store import get_json, pop_json, set_json

CALLBACK_PATH = "/federation/callback"
BACKCHANNEL_PATH = "/federation/backchannel-logout"
STATE_TTL = 600  # seconds a person may spend signing in at the home node
LEEWAY = 60
ID_TOKEN_ALGS = ["ES256", "RS256", "PS256"]
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
_STATE = "fed:rp:state:"


class BrokerError(Exception):
    """A brokered login that cannot go on; ``reason`` picks the message shown to the person.

    Reasons: ``unreachable`` (peer down or timing out), ``untrusted`` (no chain to the
    anchor, or not an OP), ``state`` (unknown, used or expired state), ``denied`` (the home
    node refused), ``invalid_token`` (a forged, replayed or mismatched token).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Provider:
    entity_id: str
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str


@dataclass
class HomeIdentity:
    """A verified identity from the home node."""

    issuer: str
    sub: str
    level: int  # as the home node states it; the caller caps it
    amr: list[str]
    claims: dict[str, Any] = field(default_factory=dict)
    sid: str = ""


def provider(node: FederationNode, entity_id: str) -> Provider:
    """The peer's OP metadata, from its validated trust chain."""
    try:
        chain = node.resolver.resolve(entity_id)
    except TrustError as exc:
        reason = "unreachable" if "unreachable" in str(exc) else "untrusted"
        raise BrokerError(reason, str(exc)) from exc
    op = chain.metadata.get("openid_provider")
    if not isinstance(op, dict):
        raise BrokerError("untrusted", f"{entity_id} is not an OpenID provider")
    values = {k: op.get(k) for k in ("issuer", "authorization_endpoint", "token_endpoint",
                                     "userinfo_endpoint", "jwks_uri")}
    if not all(isinstance(v, str) and v for v in values.values()):
        raise BrokerError("untrusted", f"{entity_id} publishes incomplete OP metadata")
    if str(values["issuer"]).rstrip("/") != entity_id.rstrip("/"):
        raise BrokerError("untrusted", "issuer differs from the entity id")
    return Provider(entity_id=entity_id, **values)  # type: ignore[arg-type]


def start(node: FederationNode, home: str, *, tx_id: str = "", purpose: str = "login",
          ui_locales: str = "") -> tuple[str, str]:
    """The authorization URL at ``home`` and its state; the state remembers what to resume.

    The caller binds the state to the browser (login CSRF, RFC 9700 §4.7): a callback
    carrying a state this browser did not start is refused.
    """
    prov = provider(node, home)
    state, nonce, verifier = random_token(24), random_token(24), random_token(48)
    set_json(node.platform.store, _STATE + state,
             {"home": home, "nonce": nonce, "verifier": verifier, "tx": tx_id,
              "purpose": purpose}, STATE_TTL)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": node.entity_id,
              "redirect_uri": node.url(CALLBACK_PATH),
              "scope": node.platform.settings.federation_peer_scope, "state": state,
              "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256"}
    if ui_locales:
        params["ui_locales"] = ui_locales
    return f"{prov.authorization_endpoint}?{urlencode(params)}", state


def peek_state(node: FederationNode, state: str) -> dict[str, Any] | None:
    """What a state was started for (its login transaction), without using it up."""
    if not state or len(state) > 64:
        return None
    data = get_json(node.platform.store, _STATE + state)
    return data if isinstance(data, dict) else None


def discard_state(node: FederationNode, state: str) -> None:
    """Forget a state the home node answered with an error."""
    if state and len(state) <= 64:
        node.platform.store.delete(_STATE + state)


def finish(node: FederationNode, state: str, code: str, iss: str | None) -> HomeIdentity:
    """Redeem the code and verify what comes back (OIDC Core §3.1.3; RFC 9207)."""
    data = pop_json(node.platform.store, _STATE + state) if state and len(state) <= 64 \
        else None
    if not isinstance(data, dict):
        raise BrokerError("state", "unknown, used or expired state")
    prov = provider(node, data["home"])
    if iss is not None and iss.rstrip("/") != prov.issuer.rstrip("/"):
        raise BrokerError("invalid_token", "iss parameter names another issuer")
    if not code or len(code) > 512:
        raise BrokerError("denied", "no authorization code")
    token = _post(node, prov.token_endpoint, {
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": node.url(CALLBACK_PATH), "code_verifier": data["verifier"],
        "client_id": node.entity_id, "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": create_assertion(node.keys.signer(), node.entity_id,
                                             prov.token_endpoint)})
    id_token, access_token = token.get("id_token"), token.get("access_token")
    if not isinstance(id_token, str) or not isinstance(access_token, str):
        raise BrokerError("denied", "the token response lacks tokens")
    claims = verify_id_token(node, prov, id_token, data["nonce"])
    info = _userinfo(node, prov, access_token)
    if info.get("sub") != claims["sub"]:
        raise BrokerError("invalid_token", "userinfo names another subject")
    level = info.get("realname_level")
    amr = claims.get("amr")
    return HomeIdentity(issuer=prov.issuer.rstrip("/"), sub=str(claims["sub"]),
                        level=level if type(level) is int and level > 0 else 1,
                        amr=[a for a in amr if isinstance(a, str)] if isinstance(amr, list)
                        else [], claims=info, sid=str(claims.get("sid") or ""))


def _post(node: FederationNode, url: str, form: dict[str, str]) -> dict[str, Any]:
    try:
        resp = node.http.post(url, data=form, timeout=node.config.http_timeout,
                              allow_redirects=False)
    except requests.RequestException as exc:
        raise BrokerError("unreachable", f"{url} unreachable") from exc
    return _json(resp, url)


def _json(resp: requests.Response, url: str) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code >= 500:
        raise BrokerError("unreachable", f"{url} answered {resp.status_code}")
    if resp.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise BrokerError("denied", f"{url} answered {resp.status_code} {error or ''}".strip())
    return body


def _userinfo(node: FederationNode, prov: Provider, access_token: str) -> dict[str, Any]:
    try:
        resp = node.http.get(prov.userinfo_endpoint, timeout=node.config.http_timeout,
                             headers={"Authorization": f"Bearer {access_token}"},
                             allow_redirects=False)
    except requests.RequestException as exc:
        raise BrokerError("unreachable", "userinfo unreachable") from exc
    return _json(resp, prov.userinfo_endpoint)


def provider_keys(node: FederationNode, prov: Provider) -> KeySet:
    """The peer's token signing keys, from the jwks_uri in its chain-validated metadata."""
    try:
        resp = node.http.get(prov.jwks_uri, timeout=node.config.http_timeout,
                             allow_redirects=False)
    except requests.RequestException as exc:
        raise BrokerError("unreachable", "jwks_uri unreachable") from exc
    try:
        return KeySet.import_key_set(_json(resp, prov.jwks_uri))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise BrokerError("untrusted", "unusable JWKS") from exc


def _decode(node: FederationNode, prov: Provider, token: str) -> dict[str, Any]:
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 8192:
        raise BrokerError("invalid_token", "malformed token")
    keys = provider_keys(node, prov)
    try:
        return dict(jwt.decode(token, keys, algorithms=ID_TOKEN_ALGS).claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise BrokerError("invalid_token", "bad signature") from exc


def _check_common(node: FederationNode, prov: Provider, claims: dict[str, Any]) -> None:
    now = time.time()
    if str(claims.get("iss", "")).rstrip("/") != prov.issuer.rstrip("/"):
        raise BrokerError("invalid_token", "wrong issuer")
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if node.entity_id not in auds or (len(auds) > 1 and claims.get("azp") != node.entity_id):
        raise BrokerError("invalid_token", "wrong audience")
    exp, iat = claims.get("exp"), claims.get("iat")
    if type(exp) is not int or type(iat) is not int:
        raise BrokerError("invalid_token", "exp and iat are required")
    if exp <= now - LEEWAY or iat > now + LEEWAY:
        raise BrokerError("invalid_token", "expired or not yet valid")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise BrokerError("invalid_token", "no subject")


def verify_id_token(node: FederationNode, prov: Provider, token: str,
                    nonce: str) -> dict[str, Any]:
    """OIDC Core §3.1.3.7: signature, iss, aud, exp, nonce; each token accepted once."""
    claims = _decode(node, prov, token)
    _check_common(node, prov, claims)
    if claims.get("nonce") != nonce:
        raise BrokerError("invalid_token", "nonce mismatch")
    _once(node, "idt", token, int(claims["exp"]))
    return claims


def verify_logout_token(node: FederationNode, token: object) -> dict[str, Any]:
    """Back-Channel Logout §2.6 checks of a logout token from a peer node we are an RP of."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 8192:
        raise BrokerError("invalid_token", "malformed logout token")
    try:
        unverified = entity._b64json(token.split(".")[1])
    except ValueError as exc:
        raise BrokerError("invalid_token", "malformed logout token") from exc
    iss = unverified.get("iss")
    if not isinstance(iss, str):
        raise BrokerError("invalid_token", "no issuer")
    prov = provider(node, iss.rstrip("/"))  # only a node that chains to the anchor
    claims = _decode(node, prov, token)
    _check_common(node, prov, claims)
    events = claims.get("events")
    if not isinstance(events, dict) or BACKCHANNEL_EVENT not in events or "nonce" in claims:
        raise BrokerError("invalid_token", "not a logout token")
    if not isinstance(claims.get("jti"), str):
        raise BrokerError("invalid_token", "jti is required")
    _once(node, "lt", claims["jti"], int(claims["exp"]))
    return claims


def _once(node: FederationNode, kind: str, value: str, exp: int) -> None:
    digest = hashlib.sha256(value.encode()).hexdigest()
    ttl = max(60, exp - int(time.time()) + LEEWAY)
    if not node.platform.store.add(f"fed:rp:{kind}:{digest}", "1", ttl):
        raise BrokerError("invalid_token", "replayed")
