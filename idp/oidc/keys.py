"""Token signing keys: kept in the database, rotated with overlap, published as JWKS.

DESIGN.md "Tokens": ES256 by default, RS256 per client. `rotate` makes a new key the signer
and keeps the old one published until every token it signed has expired (RFC 7517 §5;
OIDC Core §10.1.1 "Rotation of Asymmetric Signing Keys").

Each process caches the parsed keys for at most `CACHE_SECONDS` (parsing costs far more
than signing), and reloads at once when it meets a ``kid`` it does not know — a key
rotated by another process is therefore honoured immediately, and used for signing here
within the cache period. Parsed keys are also remembered by their key material
(`_parse`), so a reload — or a second app in the same process — does not parse them again.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache

from joserfc.jwk import ECKey, KeySet, RSAKey, import_key
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from idp.crypto import DataProtector, random_token
from idp.db import Database, utcnow
from idp.oidc import compact
from idp.oidc.models import SigningKey

SUPPORTED_ALGS = ("ES256", "RS256")
CACHE_SECONDS = 30
_CONTEXT = "oidc.signing_key"
_RELOAD_MIN_INTERVAL = 1.0  # unknown kids must not make every bad token reload


@dataclass(frozen=True)
class LoadedKeys:
    signers: dict[str, ECKey | RSAKey]  # alg -> newest active private key
    public: KeySet  # every published key, for verification
    jwks: dict[str, list[dict[str, object]]]
    loaded_at: float
    # The same keys for compact.py, the direct path of access tokens.
    compact_signers: dict[str, compact.Signer] = field(default_factory=dict)
    verifiers: dict[str, tuple[str, object]] = field(default_factory=dict)


@lru_cache(maxsize=64)
def _parse(jwk_json: str) -> ECKey | RSAKey:
    """Import a JWK once per process: parsing and checking an RSA private key costs ~10 ms,
    and the key material behind a ``kid`` never changes."""
    return import_key(json.loads(jwk_json))  # type: ignore[return-value]


def _as_key(jwk: dict[str, object]) -> ECKey | RSAKey:
    return _parse(json.dumps(jwk, sort_keys=True))


def _generate(alg: str) -> ECKey | RSAKey:
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    if alg == "RS256":
        return RSAKey.generate_key(2048, private=True)
    raise ValueError(f"unsupported signing algorithm {alg!r}")


def create_key(session: Session, protector: DataProtector, alg: str) -> SigningKey:
    """Generate and store a new active signing key for ``alg``."""
    key = _generate(alg)
    kid = f"{alg.lower()}-{random_token(12)}"
    public = {**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}
    row = SigningKey(kid=kid, alg=alg, public_jwk=public,
                     private_jwk_enc=protector.encrypt(json.dumps(key.as_dict(private=True)),
                                                       _CONTEXT))
    session.add(row)
    session.flush()
    return row


def rotate(session: Session, protector: DataProtector, alg: str, overlap: int) -> SigningKey:
    """Make a new key the signer for ``alg``; older ones stay published ``overlap`` seconds."""
    now = utcnow()
    for old in session.scalars(select(SigningKey).where(SigningKey.alg == alg,
                                                        SigningKey.active.is_(True))):
        old.active = False
        old.retired_at = now
        old.publish_until = now + dt.timedelta(seconds=overlap)
    return create_key(session, protector, alg)


def prune(session: Session) -> int:
    """Delete retired keys no longer published; return how many were deleted."""
    result = session.execute(delete(SigningKey).where(SigningKey.active.is_(False),
                                                      SigningKey.publish_until < utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def list_keys(session: Session) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey).order_by(SigningKey.created_at)))


class KeyRing:
    """The signing and verification keys of one node, cached per process."""

    def __init__(self, db: Database, protector: DataProtector, default_alg: str) -> None:
        self._db = db
        self._protector = protector
        self.default_alg = default_alg
        self._loaded: LoadedKeys | None = None
        self._lock = threading.Lock()
        self._last_forced = 0.0

    def _current(self) -> LoadedKeys:
        loaded = self._loaded
        if loaded is None or time.monotonic() - loaded.loaded_at > CACHE_SECONDS:
            loaded = self.reload()
        return loaded

    def reload(self) -> LoadedKeys:
        with self._lock, self._db.session() as session:
            # Every supported algorithm gets its key on the first load, in a transaction of
            # its own — never later, inside a request's transaction (SQLite would deadlock).
            for alg in SUPPORTED_ALGS:
                self._ensure(session, alg)
            self._loaded = self._load(session)
            return self._loaded

    def _ensure(self, session: Session, alg: str) -> None:
        exists = session.scalars(select(SigningKey.id).where(
            SigningKey.alg == alg, SigningKey.active.is_(True)).limit(1)).first()
        if exists is None:
            create_key(session, self._protector, alg)

    def _load(self, session: Session) -> LoadedKeys:
        now = utcnow()
        rows = session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
        published = [r for r in rows if r.active or (r.publish_until or now) > now]
        signers: dict[str, ECKey | RSAKey] = {}
        for r in rows:
            if r.active:  # newest active wins (ordered by creation)
                data = json.loads(self._protector.decrypt(r.private_jwk_enc, _CONTEXT))
                signers[r.alg] = _as_key({**data, "kid": r.kid, "alg": r.alg})
        jwks = {"keys": [dict(r.public_jwk) for r in published]}
        public = KeySet([_as_key(dict(r.public_jwk)) for r in published])
        compact_signers = {alg: compact.Signer(str(k.kid), alg, k.private_key)
                           for alg, k in signers.items()}
        verifiers = {str(k.kid): (str(k.alg), k.public_key) for k in public.keys
                     if k.kid and k.alg in SUPPORTED_ALGS}
        return LoadedKeys(signers, public, jwks, time.monotonic(),  # type: ignore[arg-type]
                          compact_signers, verifiers)

    def signer(self, alg: str | None = None) -> ECKey | RSAKey:
        """The private key that signs new tokens with ``alg`` (created on first use)."""
        alg = alg or self.default_alg
        if alg not in SUPPORTED_ALGS:
            raise ValueError(f"unsupported signing algorithm {alg!r}")
        loaded = self._current()
        if alg not in loaded.signers:
            with self._lock, self._db.session() as session:
                self._ensure(session, alg)
            loaded = self.reload()
        return loaded.signers[alg]

    def compact_signer(self, alg: str | None = None) -> compact.Signer:
        """`signer` for compact.py (access tokens)."""
        alg = alg or self.default_alg
        key = self.signer(alg)
        return self._current().compact_signers.get(alg) or compact.Signer(
            str(key.kid), alg, key.private_key)

    def verifiers(self, kid: str | None) -> dict[str, tuple[str, object]]:
        """Published keys by kid for compact.py; reloaded like `public_keys`."""
        self.public_keys(kid)
        return self._current().verifiers

    def public_keys(self, kid: str | None = None) -> KeySet:
        """Published keys; reload once when ``kid`` is unknown (rotated elsewhere)."""
        loaded = self._current()
        if kid and not any(k.kid == kid for k in loaded.public.keys):
            now = time.monotonic()
            if now - self._last_forced >= _RELOAD_MIN_INTERVAL:
                self._last_forced = now
                loaded = self.reload()
        return loaded.public

    def warm(self) -> None:
        """Load (and on first use create) the keys before a request opens its transaction."""
        self._current()

    def jwks(self) -> dict[str, list[dict[str, object]]]:
        return self._current().jwks
