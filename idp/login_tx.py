"""Login transactions: the hand-off between `/authorize` and the login pages (DESIGN.md §2-5).

`/authorize` stores what the relying party asked for and sends the browser to
``/login?tx=<id>``; the login pages authenticate the person, start the SSO session, and
re-evaluate the request as ``/authorize/resume?tx=<id>`` does — in the same request when the
login's last step leaves nothing pending (`idp.web.flow.onward`), else by sending the
browser there once the remaining steps are done.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from idp.crypto import random_token
from idp.store import Batch, Store, get_json, set_json


@dataclass
class LoginTransaction:
    id: str
    client_id: str
    client_name: str
    params: dict[str, str]  # the original authorization request, to resume it
    min_level: int = 1  # real-name level the client/acr_values demand
    force_login: bool = False  # prompt=login or max_age exceeded
    need_mfa: bool = False  # the client's policy requires a second factor
    login_hint: str = ""
    ui_locales: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class LoginTransactions:
    def __init__(self, store: Store, ttl: int) -> None:
        self._store = store
        self._ttl = ttl

    def create(self, **fields: Any) -> LoginTransaction:
        tx = LoginTransaction(id=random_token(18), **fields)
        set_json(self._store, f"login-tx:{tx.id}", asdict(tx), self._ttl)
        return tx

    def load(self, tx_id: str | None) -> LoginTransaction | None:
        if not tx_id or len(tx_id) > 64:
            return None
        data = get_json(self._store, f"login-tx:{tx_id}")
        return LoginTransaction(**data) if data else None

    def finish(self, tx_id: str, writes: Batch | None = None) -> None:
        """End the transaction (with ``writes``: queued with the caller's other writes)."""
        (self._store if writes is None else writes).delete(f"login-tx:{tx_id}")
