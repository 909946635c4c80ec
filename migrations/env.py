"""Alembic environment: migrations never import models, but autogenerate compares them."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import idp.models  # noqa: F401 - every table, for autogenerate and `alembic check`
from idp.db import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_, obj, autogen_context):  # type: ignore[no-untyped-def]
    """Render our column types as plain SQLAlchemy types: migrations must not import idp."""
    if type_ == "type" and obj.__class__.__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          compare_type=True, render_item=render_item)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
