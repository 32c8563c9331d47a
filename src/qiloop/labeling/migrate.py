"""Schema migrations for the labelling database: Alembic, configured in code, scripts shipped in the package.

Opening a database brings its schema to the newest revision this code knows:

- an empty database gets every revision from the first;
- a database made before migrations existed (the tables of revision 0001,
  no ``alembic_version``) is stamped at 0001, then upgraded, keeping its rows;
- a database at a revision this code does not know (a newer qiloop migrated
  it) is refused: running old code on a newer schema can lose data.

Two processes opening a new database at once must not both create tables. The
check and the migration run in one transaction that first takes a lock: on
SQLite the ``BEGIN IMMEDIATE`` every transaction starts with (see ``labeling.db``),
on PostgreSQL a transaction-scoped advisory lock. Other backends get no lock:
run ``qiloop labeling db upgrade`` once before starting several processes there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from qiloop.core.errors import ConfigurationError, StoreError, require
from qiloop.labeling.db import serialise

SCRIPTS = Path(__file__).parent / "migrations"
FIRST = "0001"
# The newest revision, so that opening a database already there needs no Alembic import
# (a test checks it against the scripts: a new revision moves it).
HEAD = "0003"
# The tables of revision 0001: what ``create_all`` made before migrations existed.
LEGACY_TABLES = frozenset(
    {
        "users", "api_tokens", "browser_sessions", "jobs", "job_items", "gold_items", "tasks", "annotations",
        "consolidated_results", "verification_decisions",
    }
)  # fmt: skip


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands against the code's migrations.

    Attributes:
        current: The database's revision; ``None`` when it has none (empty, or made before migrations).
        head: The newest revision this code knows.
        legacy: The tables of revision 0001 are there, without a revision (made before migrations).
        known: This code knows ``current`` (False: a newer qiloop migrated the database).
    """

    current: str | None
    head: str
    legacy: bool
    known: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True)
class Revision:
    """One migration script: its id, what it comes after, and what it does."""

    id: str
    down: str | None
    message: str


def config(connection: Connection | None = None):
    """An Alembic ``Config`` for the shipped scripts, migrating over ``connection`` (no alembic.ini involved)."""
    Config = require("alembic.config", "label").Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS).replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


@cache
def scripts():
    """The migration scripts (an Alembic ``ScriptDirectory``), loaded once per process."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config())


def history() -> list[Revision]:
    """Every revision, oldest first."""
    found = [Revision(s.revision, s.down_revision, s.doc or "") for s in scripts().walk_revisions()]
    return found[::-1]


def state(connection: Connection) -> SchemaState:
    """Where the database behind ``connection`` stands (reads only)."""
    MigrationContext = require("alembic.runtime.migration", "label").MigrationContext

    heads = MigrationContext.configure(connection).get_current_heads()
    if len(heads) > 1:
        raise StoreError(
            f"the labelling database is at several schema revisions at once ({', '.join(heads)})",
            hint="its alembic_version table was edited by hand; restore it to one revision",
        )
    current = heads[0] if heads else None
    known = {r.id for r in history()}
    legacy = current is None and bool(LEGACY_TABLES & set(inspect(connection).get_table_names()))
    return SchemaState(current, scripts().get_current_head(), legacy, current is None or current in known)


def upgrade(engine: Engine, revision: str = "head") -> tuple[SchemaState, SchemaState]:
    """Bring the schema to ``revision`` (default the newest); returns the state before and after.

    Raises:
        StoreError: The database is at a revision this code does not know, or
            holds some of the service's tables but not all of them.
    """
    with _locked(engine) as connection:
        if revision in ("head", HEAD) and _version(connection) == HEAD:
            done = SchemaState(HEAD, HEAD, legacy=False, known=True)
            return done, done
        before = state(connection)
        _refuse_unknown(before)
        if before.current is None and before.legacy:
            _stamp_legacy(connection)
        if not (before.up_to_date and revision == "head"):
            _command("upgrade", connection, revision)
        return before, state(connection)


def downgrade(engine: Engine, revision: str) -> tuple[SchemaState, SchemaState]:
    """Take the schema back to ``revision`` (``base``: no tables); what later revisions added is dropped.

    Raises:
        StoreError: The database is at a revision this code does not know.
    """
    with _locked(engine) as connection:
        before = state(connection)
        _refuse_unknown(before)
        _command("downgrade", connection, revision)
        return before, state(connection)


def current(engine: Engine) -> SchemaState:
    """The database's schema state, without changing anything."""
    with engine.connect() as connection:
        return state(connection)


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """One transaction holding the migration lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock)."""
    with engine.begin() as connection:
        serialise(connection, "qiloop.labeling.migrate")
        yield connection


def _version(connection: Connection) -> str | None:
    """The revision in ``alembic_version`` when it holds exactly one, read without Alembic."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return found[0] if len(found) == 1 else None


def _command(name: str, connection: Connection, revision: str) -> None:
    """Run Alembic's ``upgrade``/``downgrade``/``stamp`` over ``connection``, its usage errors made ours."""
    from alembic import command
    from alembic.util import CommandError

    try:
        getattr(command, name)(config(connection), revision)
    except CommandError as exc:
        raise ConfigurationError(
            f"cannot {name} the labelling database to {revision!r}: {exc}",
            hint="`qiloop labeling db history` lists the revisions; `qiloop labeling db current` shows where it is",
        ) from exc


def _refuse_unknown(found: SchemaState) -> None:
    if not found.known:
        raise StoreError(
            f"the labelling database is at schema revision {found.current!r}, which this qiloop does not know "
            f"(its newest is {found.head!r}): a newer qiloop migrated it",
            hint="run the qiloop version that migrated it (upgrade qiloop), or point QILOOP_LABELING_DB_URL "
            "at another database",
        )


def _stamp_legacy(connection: Connection) -> None:
    """Mark a database made by ``create_all`` before migrations existed as being at revision 0001."""
    missing = sorted(LEGACY_TABLES - set(inspect(connection).get_table_names()))
    if missing:
        raise StoreError(
            f"the labelling database has some of the service's tables but lacks {', '.join(missing)}, "
            "and has no schema revision: it was not made by qiloop, or only partly",
            hint="point QILOOP_LABELING_DB_URL at an empty database, or restore this one from a backup",
        )
    _command("stamp", connection, FIRST)
