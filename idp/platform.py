"""The ports of one node, built once from settings and shared by web, CLI and tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from idp.accounts import versions
from idp.accounts.sessions import SessionStore
from idp.crypto import DataProtector
from idp.db import Database
from idp.login_tx import LoginTransactions
from idp.passwords import PasswordHasher
from idp.ratelimit import RateLimiter
from idp.settings import Settings
from idp.sms import HttpSms, OutboxSms, SmsGateway
from idp.store import Store, make_store


@dataclass
class Platform:
    settings: Settings
    db: Database
    store: Store
    protector: DataProtector
    hasher: PasswordHasher
    sms: SmsGateway
    limiter: RateLimiter
    sessions: SessionStore
    login_txs: LoginTransactions
    services: dict[str, object] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, store: Store | None = None) -> Platform:
        settings.check()
        if store is None:
            store = make_store(settings.redis_url, settings.redis_prefix)
        sms: SmsGateway
        if settings.sms_gateway_url:
            sms = HttpSms(settings.sms_gateway_url, settings.secret_key)
        else:
            sms = OutboxSms(store)
        db = Database(settings.database_url)
        # Every committed change to a person replaces their version (oidc/person_cache.py).
        versions.watch(db.sessions, store)
        return cls(
            settings=settings,
            db=db,
            store=store,
            protector=DataProtector(settings.data_key_bytes, settings.data_cipher),
            hasher=PasswordHasher(settings.argon2_memory_kib, settings.argon2_time_cost,
                                  settings.argon2_parallelism),
            sms=sms,
            limiter=RateLimiter(store),
            sessions=SessionStore(store, settings.session_idle_timeout,
                                  settings.session_absolute_lifetime),
            login_txs=LoginTransactions(store, settings.login_transaction_ttl),
        )


def current_platform() -> Platform:
    return current_app.extensions["idp"]  # type: ignore[no-any-return]
