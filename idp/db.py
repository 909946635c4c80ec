"""Database port: SQLAlchemy 2 engine, declarative base and per-request sessions.

PostgreSQL in production, a SQLite file as the embedded default (DESIGN.md). Schema changes
are Alembic migrations; `create_schema` exists only for throwaway test databases.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import psycopg
from psycopg import errors as psycopg_errors
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import ConnStatus, DiagnosticField, ExecStatus
from sqlalchemy import DateTime, Engine, Executable, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.orm.attributes import instance_dict
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_M = TypeVar("_M", bound=Base)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime")
            value = value.astimezone(dt.UTC)
        return value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def loaded_copy(cls: type[_M], values: Mapping[str, Any]) -> _M:
    """A transient ``cls`` holding ``values``, built as the ORM's loader builds a row's
    object (values in the instance dict, no attribute events): a read-only copy. The
    constructor's per-attribute instrumentation costs 10-15 times more, which shows on
    the token hot paths (bench/README.md, round 5)."""
    cls.registry.configure()  # the first use in a process may precede any ORM query
    obj = cls.__mapper__.class_manager.new_instance()
    instance_dict(obj).update(values)
    return obj


def on_root_commit(sessions: sessionmaker[Session], key: str,
                   act: Callable[[Any], None]) -> None:
    """Call ``act(session.info[key])`` after the commit of the ROOT transaction during which
    it was set; drop the value when the root transaction ends any other way.

    SQLAlchemy fires ``after_commit`` when a SAVEPOINT is released too (nothing is committed
    yet: keep the value), and ``after_rollback`` when one rolls back (what the transaction
    changed before it is still pending: keep it too). Used by the caches that must be told
    of committed changes (idp/accounts/versions.py, idp/oidc/client_cache.py).
    """

    def after_commit(session: Session) -> None:
        if session.in_nested_transaction():
            return
        pending = session.info.pop(key, None)
        if pending:
            act(pending)

    def after_transaction_end(session: Session, transaction: Any) -> None:
        if transaction.parent is None:
            session.info.pop(key, None)

    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_transaction_end", after_transaction_end)


CreatedAt = Annotated[dt.datetime, mapped_column(UTCDateTime(), default=utcnow)]


class Database:
    """Owns the engine and the session factory for one app."""

    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            # No pool_pre_ping: it costs a round trip on every checkout, i.e. on every
            # request (issue 2 "Performance"). `_ping_if_idle` checks only connections that
            # sat idle long enough for the server or a firewall to have dropped them.
            kwargs.update(pool_size=10, max_overflow=20, pool_recycle=1800)
        self.engine: Engine = create_engine(url, **kwargs)
        # `reader`'s own pool of connections that stay in autocommit: switching a pooled
        # connection to AUTOCOMMIT and back on every request cost ≈ 20–60 µs of CPU per
        # read (bench/README.md, round 3). No pool on SQLite, which `reader` does not use.
        self.reader_engine: Engine | None = None
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            kwargs.update(pool_size=5, isolation_level="AUTOCOMMIT")
            self.reader_engine = create_engine(url, **kwargs)
            for engine in (self.engine, self.reader_engine):
                event.listen(engine, "checkin", _mark_checkin)
                event.listen(engine, "checkout", _ping_if_idle)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def drives_psycopg(self) -> bool:
        """Whether `autocommit_driver` and `DriverStatement` work here: PostgreSQL through
        psycopg (3), for which the statements are compiled."""
        dialect = self.engine.dialect
        return dialect.name == "postgresql" and dialect.driver == "psycopg"

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only unit of work without a transaction: no BEGIN, no COMMIT.

        For hot read paths (token checks, userinfo): each statement sees committed data on
        its own (autocommit), which saves two round trips per request on PostgreSQL. Never
        write through it — several writes would not be atomic; open `session` for that.
        """
        if self.reader_engine is None:  # SQLite has no round trips to save
            with self.session() as session:
                yield session
            return
        with self.reader_engine.connect() as conn:
            session = Session(bind=conn, expire_on_commit=False)
            try:
                yield session
            finally:
                session.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on any error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def autocommit_driver(self) -> Iterator[Any]:
        """PostgreSQL: the driver's own connection (psycopg) from `reader`'s pool, in
        autocommit — each statement its own transaction — for the hot paths that run fixed
        `DriverStatement`s and change nothing beyond what one statement does atomically
        (refresh_driver.py). A connection the server dropped is discarded, not pooled
        again: the pool's reset on return fails on it (tested)."""
        assert self.reader_engine is not None, "PostgreSQL only"
        pooled = self.reader_engine.raw_connection()
        try:
            # Inside a transaction, a statement would be rolled back when the pool takes
            # the connection back — after the caller has answered as if it committed.
            assert pooled.driver_connection.autocommit, "the reader pool is in autocommit"
            yield pooled.driver_connection
        finally:
            pooled.close()

    def create_schema(self) -> None:
        import idp.models  # noqa: F401 - registers every table

        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.reader_engine is not None:
            self.reader_engine.dispose()


class DriverStatement:
    """A Core statement compiled once for PostgreSQL, run prepared on libpq directly.

    SQLAlchemy's execution (context, cursor result, type processing, session bookkeeping)
    costs ≈ 70–90 µs of CPU per statement, and psycopg's cursor ≈ 60–75 µs more than the
    libpq call it wraps (bench/README.md, rounds 7 and 8). Here the parameters pass through the
    statement's own bind processors (JSON, `UTCDateTime`) and psycopg's own dumpers, the
    statement is prepared once per connection and run by `PQexecPrepared` (which waits
    without the GIL), and the row is read by psycopg's loaders: PostgreSQL receives what
    SQLAlchemy would send, the caller gets the driver's values (timestamptz as aware
    datetimes, JSON decoded).
    """

    _DIALECT = PGDialect_psycopg(paramstyle="numeric_dollar")
    _count = itertools.count()

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        compiled = statement.compile(dialect=self._DIALECT)
        self.sql = compiled.string
        self._query = self.sql.encode()
        self._names = tuple(compiled.positiontup or ())
        self._formats = (PyFormat.AUTO,) * len(self._names)
        if any(bind.expanding for bind in compiled.bind_names):
            raise ValueError("DriverStatement: expanding (IN) parameters are not supported")
        processors = compiled._bind_processors  # type: ignore[attr-defined]
        # Values the statement carries itself (`literal`, a plain value in a comparison).
        self._literals = {
            name: processors[name](bind.effective_value) if name in processors
            else bind.effective_value
            for bind, name in compiled.bind_names.items() if not bind.required}
        self._processors = tuple((name, process) for name, process in processors.items()
                                 if name not in self._literals)
        self._key = next(self._count)

    def rows(self, connection: psycopg.Connection[Any], params: dict[str, Any]
             ) -> list[tuple[Any, ...]]:
        """Run on ``connection`` (autocommit: `Database.autocommit_driver`) and return the
        rows. ``params`` is changed in place. A database error raises psycopg's exception."""
        for name, process in self._processors:
            params[name] = process(params[name])
        if self._literals:
            params.update(self._literals)
        transformer = Transformer(connection)
        values = transformer.dump_sequence([params[name] for name in self._names],
                                           self._formats)
        types, formats = transformer.types or (), transformer.formats
        result = None
        for _attempt in range(2):
            prepared = self._prepared(connection, types)
            result = connection.pgconn.exec_prepared(prepared, values, param_formats=formats)
            if result.status in (ExecStatus.TUPLES_OK, ExecStatus.COMMAND_OK):
                break
            # A failed run forgets the statement, as psycopg's own prepare manager does. Gone
            # from the server (a DEALLOCATE ALL psycopg sent after a DROP or DISCARD) or
            # planned for another result type (a migration changed a column): prepared again
            # and run once more — neither ran anything.
            self._forget(connection, types, prepared)
            if result.error_field(DiagnosticField.SQLSTATE) not in _PREPARE_AGAIN:
                break
        _raise_if_failed(connection, result)
        transformer.set_pgresult(result)
        return transformer.load_rows(0, result.ntuples, tuple)

    def _prepared(self, connection: psycopg.Connection[Any], types: Sequence[int]) -> bytes:
        """This statement's name on ``connection`` for these parameter types (psycopg's
        dumpers choose them per value: NULL or not), prepared there on first use."""
        names = _PREPARED.setdefault(connection, {})
        key = (self._key, tuple(types))
        name = names.get(key)
        if name is None:
            name = b"idp_%d_%d" % (self._key, next(self._count))
            _raise_if_failed(connection, connection.pgconn.prepare(name, self._query, types))
            names[key] = name
        return name

    def _forget(self, connection: psycopg.Connection[Any], types: Sequence[int],
                name: bytes) -> None:
        _PREPARED.get(connection, {}).pop((self._key, tuple(types)), None)
        if connection.pgconn.status == ConnStatus.OK:  # a name the server may still hold
            connection.pgconn.exec_(b"DEALLOCATE " + name)


# SQLSTATEs after which a prepared statement is prepared again: invalid_sql_statement_name
# (it is gone), feature_not_supported ("cached plan must not change result type").
_PREPARE_AGAIN = (b"26000", b"0A000")
# Statements prepared per driver connection (`DriverStatement`); gone with the connection.
_PREPARED: weakref.WeakKeyDictionary[Any, dict[tuple[int, tuple[int, ...]], bytes]] = \
    weakref.WeakKeyDictionary()


def _raise_if_failed(connection: psycopg.Connection[Any], result: Any) -> None:
    if result.status not in (ExecStatus.TUPLES_OK, ExecStatus.COMMAND_OK):
        if connection.pgconn.status != ConnStatus.OK:  # the server closed it
            raise psycopg.OperationalError(connection.pgconn.get_error_message())
        raise psycopg_errors.error_from_result(result, encoding=connection.info.encoding)


IDLE_PING_SECONDS = 10.0


def _mark_checkin(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
    """Pessimistic disconnect check, only after `IDLE_PING_SECONDS` of idleness.

    A busy pool never pays for it; a connection that sat idle (a database restart, an
    idle-timeout in between) is tested and, if dead, replaced before the request uses it.
    """
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()
    except Exception as exc:  # noqa: BLE001 - any failure means the connection is unusable
        raise DisconnectionError() from exc


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
