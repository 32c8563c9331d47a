"""SQLAlchemy engines for the cloud side's own databases (the labelling service, the fleet registry).

On SQLite every transaction starts with ``BEGIN IMMEDIATE``: the one write lock is taken
up front, so two processes that read, then write (handing out a task, allocating a
sequence) queue up instead of reading the same row or failing halfway with "database is
locked". A connection marked with the :data:`READ_ONLY` execution option starts a plain
(deferred) transaction instead and, with WAL, never waits for a writer.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError

from qiloop.core.errors import ConfigurationError, MissingDependencyError, StoreError

READ_ONLY = "qiloop_read"  # the execution option that marks a read-only connection


def parse_url(url: str, setting: str) -> URL:
    """``url`` parsed; ``setting`` names it in the error (e.g. ``fleet_db_url``).

    Raises:
        ConfigurationError: The URL is not a database URL SQLAlchemy knows.
    """
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"{setting} {url!r} is not a database URL", hint="use sqlite:///path or postgresql://user@host/db"
        ) from exc


def sqlite_engine(url: URL, *, name: str, variable: str, foreign_keys: bool = False) -> Engine:
    """An engine on the SQLite file of ``url`` (its folder created) in WAL mode, taking the write lock up front.

    Args:
        url: A ``sqlite:///path`` URL (``:memory:`` creates no folder).
        name: What the database is, for messages ("the fleet database").
        variable: The environment variable that names its URL, for the hint (``QILOOP_FLEET_DB_URL``).
        foreign_keys: Whether SQLite enforces foreign keys (``PRAGMA foreign_keys=ON``).

    Raises:
        StoreError: The file's folder cannot be created.
    """
    if url.database and url.database != ":memory:":
        folder = Path(url.database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder {folder} for {name}: {exc}",
                hint=f"set QILOOP_HOME or {variable} to a writable place",
            ) from exc
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # the "begin" listener below issues BEGIN itself
        cursor = dbapi_connection.cursor()
        if foreign_keys:
            cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        read = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    return engine


def with_driver(url: URL, extra: str) -> URL:
    """``postgresql://`` with a driver that is installed: psycopg 3 if present, else psycopg2.

    Raises:
        MissingDependencyError: Neither is installed; ``extra`` is the install extra that brings psycopg2.
    """
    if url.drivername != "postgresql" or importlib.util.find_spec("psycopg") is not None:
        return url
    if importlib.util.find_spec("psycopg2") is None:
        raise MissingDependencyError("psycopg2-binary", extra)
    return url.set(drivername="postgresql+psycopg2")
