"""The client cache's version (idp/oidc/client_cache.py, brief H1b): replaced after the
commit of the root transaction only — not when a SAVEPOINT is released, and not forgotten
when one rolls back — and a missing version means "read the database"."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from idp.oidc import clients
from idp.oidc.client_cache import VERSION_KEY, ClientCache, load
from idp.oidc.models import Client
from idp.platform import Platform
from tests.oidc.helpers import register


@pytest.fixture
def machine(platform):  # type: ignore[no-untyped-def]
    return register(platform, grant_types=["client_credentials"], scope="", redirect_uris=[])


def reader(platform: Platform):  # type: ignore[no-untyped-def]
    """A loader reading committed rows, as a request of another unit of work does."""

    def read(client_id: str) -> Client | None:
        with platform.db.reader() as session:
            return load(session, client_id)

    return read


def test_a_released_savepoint_is_not_the_commit(platform, machine):
    cache: ClientCache = platform.services["oidc.clients"]  # type: ignore[assignment]
    read = reader(platform)
    assert not cache.get(machine.client_id, read).disabled  # type: ignore[union-attr]
    with platform.db.session() as session:
        clients.get(session, machine.client_id).disabled = True  # type: ignore[union-attr]
        session.flush()
        with session.begin_nested():  # released: SQLAlchemy calls after_commit
            pass
        # The window before the real commit: a reader keeps the old row.
        assert not cache.get(machine.client_id, read).disabled  # type: ignore[union-attr]
    assert cache.get(machine.client_id, read).disabled  # type: ignore[union-attr]


def test_a_rolled_back_savepoint_keeps_the_earlier_change(platform, machine):
    before = platform.store.get(VERSION_KEY)
    with platform.db.session() as session:
        clients.get(session, machine.client_id).disabled = True  # type: ignore[union-attr]
        session.flush()
        with pytest.raises(RuntimeError), session.begin_nested():
            raise RuntimeError("e.g. a lost race on a unique key, caught")
    assert platform.store.get(VERSION_KEY) not in (None, before)


def test_a_missing_version_means_the_database(platform, machine):
    cache = ClientCache(platform.store, platform.settings.secret_key)  # another process
    read = reader(platform)
    platform.store.delete(VERSION_KEY)
    assert not cache.get(machine.client_id, read).disabled  # type: ignore[union-attr]
    # A change the watcher cannot see, then the Store loses the key (flushed, evicted).
    with platform.db.engine.begin() as conn:
        conn.execute(text("UPDATE oidc_client SET disabled = :d WHERE client_id = :c"),
                     {"d": True, "c": machine.client_id})
    platform.store.delete(VERSION_KEY)
    assert cache.get(machine.client_id, read).disabled  # type: ignore[union-attr]
