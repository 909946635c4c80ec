"""Shared fixtures. The backend is chosen by ``IDP_TEST_BACKEND``:

- ``embedded`` (default): a SQLite file per test and the in-process store;
- ``postgres``: the real PostgreSQL at ``IDP_TEST_DATABASE_URL`` and Redis at
  ``IDP_TEST_REDIS_URL`` (started by ``make test`` through scripts/services.sh); each test
  gets a fresh database (cloned from a template migrated once per session) and a fresh
  Redis key prefix.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from idp import create_app
from idp.accounts.models import Person
from idp.accounts.service import Accounts
from idp.cli import get_platform, main
from idp.platform import Platform
from idp.settings import Settings
from idp.store import MemoryStore, RedisStore, Store
from tests.browser.chromium import chromium, page  # noqa: F401 - one session browser
from tests.e2e.stack import DemoStack

BACKEND = os.environ.get("IDP_TEST_BACKEND", "embedded")
FAST_ARGON2 = {"argon2_memory_kib": 1024, "argon2_time_cost": 1}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that touch no test database or store as ``backend_independent``.

    A test sees the backend only through the `backend` fixture (directly or through `app`,
    `platform`, `client`…) or by being marked ``postgres``; anything else (document rules,
    processes that run their own embedded `idp demo`, pure units) behaves the same on both
    backends, so `make test` runs it once, in the embedded pass.
    """
    for item in items:
        if "backend" not in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
                "postgres"):
            item.add_marker(pytest.mark.backend_independent)


@dataclass
class Backend:
    database_url: str
    store: Store
    redis_url: str = ""


def with_signing_keys(url: str) -> None:
    """Create the node's first signing keys in a template, once: RSA key generation is the
    larger half of a fresh app's first request, and every test would pay it again."""
    from idp.crypto import DataProtector
    from idp.db import Database
    from idp.oidc.keys import KeyRing

    settings = Settings(testing=True, database_url=url)
    db = Database(url)
    try:
        KeyRing(db, DataProtector(settings.data_key_bytes, settings.data_cipher),
                settings.signing_alg).reload()
    finally:
        db.dispose()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """Name of a PostgreSQL database migrated to head once per session (tests/pg.py)."""
    from tests.pg import template_database

    with template_database() as name:
        yield name


# Rows every test starts with, restored after each test empties the tables.
KEPT_TABLES = ("oidc_signing_key",)


@dataclass(frozen=True)
class PgDatabase:
    url: str
    kept_rows: dict[str, list[dict]]  # type: ignore[type-arg]


@pytest.fixture(scope="session")
def pg_database(pg_template: str) -> Iterator[PgDatabase]:
    """URL of a database at head shared by the session's tests (per xdist worker).

    `backend` empties its tables after each test (tests/pg.empty_tables): milliseconds,
    where cloning a database per test cost ~200 ms.
    """
    from tests.pg import fresh_database, snapshot

    with fresh_database(template=pg_template) as url:
        with_signing_keys(url)
        yield PgDatabase(url, snapshot(url, KEPT_TABLES))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A SQLite file migrated to head once per session; each test copies it."""
    from idp.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "idp.sqlite3"
    upgrade(f"sqlite:///{path}")
    with_signing_keys(f"sqlite:///{path}")
    return path


@pytest.fixture
def backend(tmp_path, request) -> Iterator[Backend]:  # type: ignore[no-untyped-def]
    """The test's database and store, at head and empty: the session's `pg_database` (emptied
    after each test) on PostgreSQL, a copy of `sqlite_template` on SQLite."""
    if BACKEND == "postgres":
        from tests.pg import empty_tables

        database: PgDatabase = request.getfixturevalue("pg_database")
        url = database.url
        prefix = f"t{uuid.uuid4().hex[:10]}:"
        redis_url = os.environ["IDP_TEST_REDIS_URL"]
        store = RedisStore(redis_url, prefix=prefix)
        try:
            yield Backend(url, store, redis_url)
        finally:
            store.flush_prefix()
            empty_tables(url, restore=database.kept_rows)
    else:
        path = tmp_path / "idp.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield Backend(f"sqlite:///{path}", MemoryStore())


def make_settings(backend: Backend, **overrides) -> Settings:  # type: ignore[no-untyped-def]
    values = dict(testing=True, secure_cookies=False, issuer="http://localhost",
                  database_url=backend.database_url, **FAST_ARGON2)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings_overrides() -> dict:  # type: ignore[type-arg]
    """Override in a test module to change settings for its `app`."""
    return {}


@pytest.fixture
def app(backend: Backend, settings_overrides) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(backend, **settings_overrides), store=backend.store)
    platform: Platform = app.extensions["idp"]
    yield app  # `backend` hands over a database already at head
    platform.db.dispose()


@pytest.fixture
def platform(app: Flask) -> Platform:
    return app.extensions["idp"]  # type: ignore[no-any-return]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class Citizen:
    """A seeded person and the secrets a test needs to sign in as them."""

    person_id: int
    sub: str
    id_number: str
    name: str
    phone: str
    password: str


CITIZEN = dict(id_type="resident_id", id_number="110105194912310029", name="张三",
               phone="13800138000", password="Zhang3-Passw0rd")


@pytest.fixture
def make_citizen(platform: Platform):  # type: ignore[no-untyped-def]
    """Factory: ``make_citizen(id_number=…, phone=…, realname_level=…)`` → `Citizen`."""

    def make(**overrides) -> Citizen:  # type: ignore[no-untyped-def]
        values = {**CITIZEN, **overrides}
        with platform.db.session() as session:
            person: Person = Accounts(session, platform.protector, platform.hasher).create(
                **values)
            return Citizen(person.id, person.sub, values["id_number"], values["name"],
                           values["phone"], values["password"])

    return make


@pytest.fixture
def citizen(make_citizen) -> Citizen:  # type: ignore[no-untyped-def]
    return make_citizen()  # type: ignore[no-any-return]


@pytest.fixture
def idp_cli(platform: Platform, monkeypatch) -> Iterator:  # type: ignore[no-untyped-def,type-arg]
    """``idp_cli("accounts", "show", "…", input=…)`` → click `Result` on the test database."""
    monkeypatch.setenv("IDP_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("IDP_TESTING", "true")
    monkeypatch.delenv("IDP_REDIS_URL", raising=False)
    monkeypatch.setenv("IDP_DATA_KEY", platform.settings.data_key)
    monkeypatch.setenv("IDP_SECRET_KEY", platform.settings.secret_key)
    for key, value in FAST_ARGON2.items():
        monkeypatch.setenv(f"IDP_{key.upper()}", str(value))
    get_platform.cache_clear()  # functools.cache'd: built from the environment once

    def run(*args: str, input: str | bytes | None = None) -> Result:  # noqa: A002
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    yield run
    if get_platform.cache_info().currsize:
        get_platform().db.dispose()
    get_platform.cache_clear()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep what collection built out of the garbage collector's way: the suite allocates
    millions of short-lived objects, and full collections walking a long-lived heap of
    modules, apps and fixtures cost more than the tests they interrupt."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


@pytest.fixture(scope="session")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    """`idp demo` as real processes (platform + two relying parties), started once for the
    connector and end-to-end tests: they only add clients and sessions of their own."""
    from tests.e2e.stack import start_demo

    stack = start_demo(tmp_path_factory.mktemp("demo-var"))
    try:
        yield stack
    finally:
        stack.stop()
