"""Alembic's environment for the labelling database.

``qiloop.labeling.migrate`` hands over an open connection (already in the
transaction that holds the migration lock) through ``config.attributes``. A
developer running the ``alembic`` command with ``alembic.ini`` from this folder
gets a connection to ``sqlalchemy.url`` from that file, or else to the
configured labelling database (``QILOOP_LABELING_DB_URL`` / ``QILOOP_HOME``).
"""

from __future__ import annotations

from alembic import context

from qiloop.core.errors import ConfigurationError
from qiloop.labeling import models  # noqa: F401  (registers the tables on Base.metadata)
from qiloop.labeling.db import Base, UtcDateTime


def _render_item(kind: str, obj, autogen_context):
    """Scripts name plain SQLAlchemy types: ``UtcDateTime`` is stored as ``DateTime``."""
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime()"
    return False


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        render_item=_render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_standalone() -> None:
    from qiloop.labeling.db import Database
    from qiloop.settings import load_settings

    url = context.config.get_main_option("sqlalchemy.url") or load_settings().labeling_db_url
    database = Database.from_url(url, create=False)
    try:
        with database.engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        database.dispose()


if context.is_offline_mode():
    raise ConfigurationError(
        "offline (--sql) migrations are not supported for the labelling database",
        hint="run the migration against a database: qiloop labeling db upgrade",
    )
if context.config.attributes.get("connection") is not None:
    _run(context.config.attributes["connection"])
else:
    _run_standalone()
