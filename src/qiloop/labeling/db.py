"""The labelling service's database: SQLite by default, PostgreSQL (or any SQLAlchemy URL) by configuration.

Opening a database migrates its schema to the newest revision (Alembic, see
``labeling.migrate``); a database newer than the code is refused.

On SQLite every transaction starts with ``BEGIN IMMEDIATE``: the one write lock
is taken up front, so two processes handing out tasks queue up instead of both
reading the same free slot (or failing halfway with "database is locked"); the engine
comes from :mod:`qiloop.sqlengine`. On PostgreSQL the task queue locks rows with ``FOR UPDATE SKIP LOCKED`` instead.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import DateTime, create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from qiloop.core.errors import StoreError
from qiloop.settings import Settings
from qiloop.sqlengine import parse_url, sqlite_engine, with_driver

# The largest id a row can have on every backend (the primary keys are INTEGER: 32-bit on PostgreSQL).
MAX_ROW_ID = 2**31 - 1


def is_row_id(value: int) -> bool:
    """True when ``value`` can be a row's id; a query with any other number could only fail or find nothing."""
    return 1 <= value <= MAX_ROW_ID


class Base(DeclarativeBase):
    """Base of the labelling service's ORM models."""


class UtcDateTime(TypeDecorator):
    """A timestamp stored as naive UTC and read back as an aware UTC datetime, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(timezone.utc)


def serialise(target: Session | Connection, name: str) -> None:
    """Make transactions that call this with the same ``name`` run one at a time, until they end.

    PostgreSQL: a transaction-scoped advisory lock keyed by ``name``. SQLite needs
    none: every transaction here already holds the write lock from its start.
    """
    dialect = target.get_bind().dialect if isinstance(target, Session) else target.dialect
    if dialect.name == "postgresql":
        target.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(name.encode())})


class Database:
    """An engine and a session factory for the labelling service.

    Args:
        engine: A ready SQLAlchemy engine (tests may pass their own).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str, *, create: bool = True) -> Database:
        """Open the database at ``url`` (``sqlite:///path``, ``postgresql://user@host/db``), creating the schema.

        Raises:
            ConfigurationError: The URL is not a database URL SQLAlchemy knows.
            StoreError: The database cannot be reached or written.
        """
        parsed = parse_url(url, "labeling_db_url")
        if parsed.get_backend_name() == "sqlite":
            engine = sqlite_engine(
                parsed, name="the labelling database", variable="QILOOP_LABELING_DB_URL", foreign_keys=True
            )
        else:
            engine = create_engine(with_driver(parsed, "label"), pool_pre_ping=True)
        database = cls(engine)
        if create:
            database.create_schema()
        return database

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The database named by ``settings.labeling_db_url``."""
        return cls.from_url(settings.labeling_db_url)

    def create_schema(self) -> None:
        """Migrate the schema to the newest revision (an empty database gets every table).

        Raises:
            StoreError: The database cannot be reached, or a newer qiloop migrated it.
        """
        self.upgrade()

    def upgrade(self, revision: str = "head"):
        """Migrate the schema to ``revision``; the ``SchemaState`` before and after (see ``labeling.migrate``)."""
        from qiloop.labeling import migrate

        return self._migrating(migrate.upgrade, revision)

    def downgrade(self, revision: str):
        """Migrate the schema back to ``revision``, dropping what later revisions added; the states before and after."""
        from qiloop.labeling import migrate

        return self._migrating(migrate.downgrade, revision)

    def schema_state(self):
        """Where the schema stands against the code's migrations (changes nothing)."""
        from qiloop.labeling import migrate

        return self._migrating(migrate.current)

    def _migrating(self, step, *args):
        try:
            return step(self.engine, *args)
        except OperationalError as exc:
            raise _unreachable(self.engine, exc) from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back if it raises."""
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as exc:
            raise _unreachable(self.engine, exc) from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _unreachable(engine: Engine, exc: OperationalError) -> StoreError:
    return StoreError(
        f"the labelling database at {engine.url.render_as_string(hide_password=True)} failed: {exc.orig}",
        hint="check QILOOP_LABELING_DB_URL, that the server is running and the folder is writable",
    )
