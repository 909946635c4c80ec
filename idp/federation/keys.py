"""Federation signing keys: ES256, in the database, published in the entity configuration.

Separate from the OIDC token keys (`idp.oidc.keys`): a token key signs ID tokens for
department systems; a federation key signs what this node says about itself and about its
children (OIDF §3.1). Rotation keeps the old key published for ``overlap`` seconds so that
statements other nodes have cached still verify (OIDF §11.2 "Key Rollover").
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import Any

from joserfc.jwk import ECKey, import_key
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.crypto import DataProtector, random_token
from idp.db import Database, utcnow
from idp.federation.models import FederationKey

ALG = "ES256"
_CONTEXT = "federation.signing_key"
CACHE_SECONDS = 30


def create_key(session: Session, protector: DataProtector) -> FederationKey:
    """Generate and store a new active ES256 federation key."""
    key = ECKey.generate_key("P-256", private=True)
    kid = f"fed-{random_token(12)}"
    public = {**key.as_dict(private=False), "kid": kid, "alg": ALG, "use": "sig"}
    row = FederationKey(kid=kid, alg=ALG, public_jwk=public,
                        private_jwk_enc=protector.encrypt(
                            json.dumps(key.as_dict(private=True)), _CONTEXT))
    session.add(row)
    session.flush()
    return row


def rotate(session: Session, protector: DataProtector, overlap: int) -> FederationKey:
    """Make a new key the signer; the old one stays published ``overlap`` seconds."""
    now = utcnow()
    for old in session.scalars(select(FederationKey).where(FederationKey.active.is_(True))):
        old.active = False
        old.publish_until = now + dt.timedelta(seconds=overlap)
    return create_key(session, protector)


class FederationKeys:
    """This node's federation signer and published JWKS, cached per process briefly."""

    def __init__(self, db: Database, protector: DataProtector) -> None:
        self._db = db
        self._protector = protector
        self._lock = threading.Lock()
        self._cached: tuple[float, ECKey, dict[str, Any]] | None = None

    def _load(self) -> tuple[float, ECKey, dict[str, Any]]:
        cached = self._cached
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached
        with self._lock, self._db.session() as session:
            rows = list(session.scalars(select(FederationKey)
                                        .order_by(FederationKey.created_at)))
            if not any(r.active for r in rows):
                rows.append(create_key(session, self._protector))
            now = utcnow()
            published = [r for r in rows if r.active or (r.publish_until or now) > now]
            signer_row = [r for r in rows if r.active][-1]
            data = json.loads(self._protector.decrypt(signer_row.private_jwk_enc, _CONTEXT))
            signer = import_key({**data, "kid": signer_row.kid, "alg": ALG})
            jwks = {"keys": [dict(r.public_jwk) for r in published]}
            self._cached = (time.monotonic(), signer, jwks)  # type: ignore[assignment]
            return self._cached  # type: ignore[return-value]

    def signer(self) -> ECKey:
        """The private key that signs this node's statements and client assertions."""
        return self._load()[1]

    def jwks(self) -> dict[str, Any]:
        """Public keys to publish (``jwks`` claim of the entity configuration)."""
        return self._load()[2]

    def forget(self) -> None:
        """Drop the cache (after a rotation in this process)."""
        self._cached = None
