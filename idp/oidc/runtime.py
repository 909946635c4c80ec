"""Per-node OIDC helpers shared by the web app, the CLI and other domains.

Kept on `Platform.services` so a command-line process (``idp accounts ban …``) signs
logout tokens with the same keys as the web processes without building a Flask app.
"""

from __future__ import annotations

from idp.oidc.client_cache import ClientCache, watch
from idp.oidc.keys import KeyRing
from idp.oidc.revoked import RevocationList
from idp.platform import Platform


def keyring(platform: Platform) -> KeyRing:
    ring = platform.services.get("oidc.keys")
    if ring is None:
        ring = platform.services["oidc.keys"] = KeyRing(platform.db, platform.protector,
                                                        platform.settings.signing_alg)
    return ring  # type: ignore[return-value]


def revocations(platform: Platform) -> RevocationList:
    found = platform.services.get("oidc.revoked")
    if found is None:
        found = platform.services["oidc.revoked"] = RevocationList(
            platform.store, platform.settings.access_token_ttl)
    return found  # type: ignore[return-value]


def clients(platform: Platform) -> ClientCache:
    """The process's client cache; also makes this process's client changes invalidate it
    (and every other process's) after commit — call it before changing clients."""
    found = platform.services.get("oidc.clients")
    if found is None:
        found = platform.services["oidc.clients"] = ClientCache(platform.store,
                                                                platform.settings.secret_key)
        watch(platform.db.sessions, found)
    return found  # type: ignore[return-value]
