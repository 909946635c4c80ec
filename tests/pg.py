"""Fresh PostgreSQL databases for tests (the ``postgres`` backend of tests/conftest.py).

`fresh_database()` creates an empty database, yields its URL and drops it. Running the
migrations per test costs ~50 ms and grows with every table, so the fixtures migrate ONE
template database per test session (`template_database`) and clone it per test with
``CREATE DATABASE … TEMPLATE`` (~20 ms, whatever the schema size).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from psycopg.types.json import Json
from sqlalchemy import Engine, create_engine, text


def admin_url() -> str:
    """The maintenance database URL of the test server (scripts/services.sh writes it)."""
    return os.environ["IDP_TEST_DATABASE_URL"]


def url_for(name: str) -> str:
    base, _, _ = admin_url().rpartition("/")
    return f"{base}/{name}"


def _admin() -> Engine:
    return create_engine(admin_url(), isolation_level="AUTOCOMMIT")


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def fresh_database(template: str | None = None) -> Iterator[str]:
    """A new database, empty or cloned from ``template``; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    try:
        yield url_for(name)
    finally:
        _drop(admin, name)
        admin.dispose()


@contextmanager
def template_database() -> Iterator[str]:
    """A database migrated to head, to clone per test; yields its NAME, drops it at the end.

    The migration's engine is disposed before cloning starts: PostgreSQL refuses a template
    that has open connections.
    """
    from idp.migrate import upgrade

    name = f"tmpl_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url_for(name))
        yield name
    finally:
        _drop(admin, name)
        admin.dispose()


def snapshot(url: str, tables: tuple[str, ...]) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    """The rows of ``tables``, to put back after `empty_tables`."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: [dict(r._mapping) for r in conn.execute(text(f'SELECT * FROM "{t}"'))]
                    for t in tables}
    finally:
        engine.dispose()


@cache
def _emptier(url: str) -> tuple[Engine, str]:
    """An engine kept for the session, and the one batch of statements that empties ``url``.

    DELETE, not TRUNCATE: TRUNCATE gives each of ~100 tables a new file, ~60–150 ms per test,
    where deleting the few rows a test wrote takes a few milliseconds. Foreign-key triggers are
    skipped (``session_replication_role``: every table is emptied anyway), and every sequence
    restarts at 1 as TRUNCATE … RESTART IDENTITY did.
    """
    engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1)
    with engine.connect() as conn:
        tables = conn.execute(text(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'")).scalars().all()
    statements = ["SET session_replication_role = replica",
                  *(f"DELETE FROM {t}" for t in tables),
                  "SET session_replication_role = DEFAULT",
                  "SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n "
                  "ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname = 'public'"]
    return engine, "; ".join(statements)


def empty_tables(url: str, restore: dict[str, list[dict]] | None = None) -> None:  # type: ignore[type-arg]
    """Return a database at head to its just-migrated state, in a few milliseconds.

    Connections a test left behind (a server thread, a cached CLI engine) are ended first, as
    ``DROP DATABASE … WITH (FORCE)`` would, so the DELETEs never wait on their locks.
    """
    engine, empty = _emptier(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        conn.exec_driver_sql(empty)
        for table, rows in (restore or {}).items():
            for row in rows:
                columns = ", ".join(f'"{c}"' for c in row)
                values = ", ".join(f":{c}" for c in row)
                params = {c: Json(v) if isinstance(v, dict | list) else v
                          for c, v in row.items()}
                conn.execute(text(f'INSERT INTO "{table}" ({columns}) VALUES ({values})'),
                             params)
            if rows and "id" in rows[0]:  # the sequence restarted below the kept ids
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', "
                                  f"'id'), (SELECT max(id) FROM \"{table}\"))"))
