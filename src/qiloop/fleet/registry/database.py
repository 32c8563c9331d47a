"""Opening the fleet registry's database (SQLite or PostgreSQL) and running transactions on it.

On SQLite (the engine comes from :mod:`qiloop.sqlengine`) every write transaction starts
with ``BEGIN IMMEDIATE``: the one write lock is taken up front, so two processes allocating
a sequence queue up instead of reading the same last number; reads start a plain (deferred)
transaction and never wait for writers (WAL). On PostgreSQL each statement that must not
race is written so the database serialises it (an upsert that locks the row, see
:mod:`qiloop.fleet.registry.deployments`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError

from qiloop.core.errors import ConfigurationError, StoreError
from qiloop.sqlengine import READ_ONLY, parse_url, sqlite_engine, with_driver

HINT = "check QILOOP_FLEET_DB_URL, that the server is running and the folder is writable"


def sqlite_url(path: str | Path) -> str:
    """The SQLAlchemy URL of the SQLite file at ``path``."""
    return URL.create("sqlite", database=str(Path(path).expanduser())).render_as_string()


def open_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://user@host/db``).

    Raises:
        ConfigurationError: The URL is not a database URL SQLAlchemy knows, or names another backend.
        MissingDependencyError: No PostgreSQL driver is installed.
        StoreError: The SQLite file's folder cannot be created.
    """
    parsed = parse_url(url, "fleet_db_url")
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return sqlite_engine(parsed, name="the fleet database", variable="QILOOP_FLEET_DB_URL")
    if backend != "postgresql":
        raise ConfigurationError(
            f"the fleet registry runs on SQLite or PostgreSQL, not {backend!r}",
            hint="set QILOOP_FLEET_DB_URL to sqlite:///path or postgresql://user@host/db",
        )
    return create_engine(with_driver(parsed, "fleet"), pool_pre_ping=True)


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One write transaction (SQLite: ``BEGIN IMMEDIATE``); committed at the end, rolled back if it raises.

    Raises:
        StoreError: The database failed (unreachable, locked for longer than the timeout, full).
    """
    try:
        with engine.begin() as connection:
            yield connection
    except DBAPIError as exc:
        raise failure(engine, exc) from exc


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """One read-only transaction (SQLite: deferred, so it never waits for a writer)."""
    try:
        with engine.connect() as connection:
            connection.execution_options(**{READ_ONLY: True})
            with connection.begin():
                yield connection
    except DBAPIError as exc:
        raise failure(engine, exc) from exc


def failure(engine: Engine, exc: DBAPIError) -> StoreError:
    """A database error as the :class:`StoreError` that names the fleet database."""
    where = engine.url.render_as_string(hide_password=True)
    return StoreError(f"the fleet database at {where} failed: {exc.orig}", hint=HINT)


def insert(connection: Connection, table):
    """The backend's ``INSERT`` construct, which knows ``ON CONFLICT`` (SQLite and PostgreSQL alike)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table)


def upsert(connection: Connection, table, key: str, values: dict, extra: dict | None = None) -> None:
    """Insert ``values`` as a row of ``table``, or set the given columns (and ``extra``) of the row with that ``key``.

    The statement is built once per backend, table and set of columns (the controller
    runs one per message it receives); the values travel as parameters.
    """
    columns = tuple(values)
    statement = _upsert(connection.dialect.name, table, key, columns, tuple(sorted((extra or {}).items())))
    connection.execute(statement, values)


def insert_new(connection: Connection, table, values: dict) -> bool:
    """Insert ``values`` unless a row with the same primary key exists; whether it was new."""
    statement = _insert_new(connection.dialect.name, table)
    return bool(connection.execute(statement, values).rowcount)


@cache
def _upsert(dialect: str, table, key: str, columns: tuple[str, ...], extra: tuple):
    from sqlalchemy.dialects import postgresql, sqlite

    statement = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    changes = {name: statement.excluded[name] for name in columns if name != key} | dict(extra)
    return statement.on_conflict_do_update(index_elements=[key], set_=changes)


@cache
def _insert_new(dialect: str, table):
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql if dialect == "postgresql" else sqlite).insert(table).on_conflict_do_nothing()
