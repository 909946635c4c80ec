"""Subject identifiers: public by default, pairwise per client (OIDC Core §8).

A pairwise ``sub`` is a keyed HMAC of the client's sector (the host of its redirect URIs,
§8.1) and the person's public ``sub``: stable for one sector, unlinkable across sectors,
and not reversible without the node's secret key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

from idp.oidc.models import Client


def sector_of(client: Client) -> str:
    """The sector identifier: the host shared by the client's redirect URIs (§8.1)."""
    hosts = sorted({urlsplit(u).hostname or "" for u in client.redirect_uris})
    return hosts[0] if len(hosts) == 1 else client.client_id


def subject_for(client: Client, person_sub: str, secret_key: str) -> str:
    """The ``sub`` this client sees for the person."""
    if client.subject_type != "pairwise":
        return person_sub
    message = f"pairwise\x00{sector_of(client)}\x00{person_sub}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
