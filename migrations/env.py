"""Alembic environment: migrations never import models, but autogenerate compares them."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, event

import idp.models  # noqa: F401 - every table, for autogenerate and `alembic check`
from idp.db import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_, obj, autogen_context):  # type: ignore[no-untyped-def]
    """Render our column types as plain SQLAlchemy types: migrations must not import idp."""
    if type_ == "type" and obj.__class__.__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def _sqlite_journal(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    if engine.dialect.name == "sqlite":
        # The app's own journal settings (idp/db.py): Python's sqlite3 commits each DDL
        # statement by itself, and in the default rollback journal every one of those ~250
        # commits waited for fsync (1.6 s for a new database; 0.3 s of it CPU).
        event.listen(engine, "connect", _sqlite_journal)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          compare_type=True, render_item=render_item)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
