"""Alembic environment: migrations never import models, but autogenerate compares them."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import idp.models  # noqa: F401 - every table, for autogenerate and `alembic check`
from idp.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
