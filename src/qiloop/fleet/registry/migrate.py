"""Schema migrations for the fleet registry: Alembic, configured in code, scripts in ``qiloop.fleet.migrations``.

Opening the registry brings its schema to the newest revision this code knows:

- an empty database gets every revision from the first;
- a ``fleet.db`` made before migrations existed (some or all of the tables, no
  revision) is taken up by revision 0001, which creates only what is missing and
  adds the columns older files lack, keeping every row;
- a database at a revision this code does not know (a newer qiloop migrated it)
  is refused: running old code on a newer schema can lose data.

The revision is kept in its own table, :data:`VERSION_TABLE`, so the fleet and the
labelling service may share one PostgreSQL database. Two processes opening a new
database at once take turns: the check and the migration run in one transaction that
first takes a lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock).
"""

from __future__ import annotations

import zlib
from functools import cache
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from qiloop.core.errors import StoreError
from qiloop.fleet.registry.database import writing

SCRIPTS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "fleet_alembic_version"
# The newest revision, so that opening a database already there needs no Alembic import
# (a test checks it against the scripts: a new revision moves it).
HEAD = "0001"


def config(connection: Connection | None = None):
    """An Alembic ``Config`` for the shipped scripts, migrating over ``connection`` (no alembic.ini involved)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS).replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


@cache
def revisions() -> tuple[str, ...]:
    """Every revision the scripts hold, oldest first."""
    from alembic.script import ScriptDirectory

    found = [s.revision for s in ScriptDirectory.from_config(config()).walk_revisions()]
    return tuple(found[::-1])


def current(connection: Connection) -> str | None:
    """The database's revision (``None``: none recorded yet)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(found) > 1:
        raise StoreError(
            f"the fleet database is at several schema revisions at once ({', '.join(found)})",
            hint=f"its {VERSION_TABLE} table was edited by hand; restore it to one revision",
        )
    return found[0] if found else None


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; the revisions before and after.

    Raises:
        StoreError: The database is at a revision this code does not know, or cannot be written.
    """
    with writing(engine) as connection:
        if connection.dialect.name == "postgresql":
            key = zlib.crc32(b"qiloop.fleet.migrate")
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        before = current(connection)
        if before == HEAD:
            return before, HEAD
        if before is not None and before not in revisions():
            raise StoreError(
                f"the fleet database is at schema revision {before!r}, which this qiloop does not know "
                f"(its newest is {HEAD!r}): a newer qiloop migrated it",
                hint="run the qiloop version that migrated it (upgrade qiloop), or point QILOOP_FLEET_DB_URL "
                "at another database",
            )
        from alembic import command

        command.upgrade(config(connection), "head")
        return before, current(connection) or HEAD
