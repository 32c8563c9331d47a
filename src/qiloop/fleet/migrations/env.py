"""Alembic's environment for the fleet registry.

``qiloop.fleet.registry.migrate`` hands over an open connection (already in the
transaction that holds the migration lock) through ``config.attributes``; the
revision is kept in ``fleet_alembic_version``. A new revision is a script in
``versions/`` written like 0001 (``revision``/``down_revision``, ``upgrade``/``downgrade``),
and moves ``HEAD`` in ``qiloop.fleet.registry.migrate``.
"""

from __future__ import annotations

from alembic import context

from qiloop.core.errors import ConfigurationError
from qiloop.fleet.registry.migrate import VERSION_TABLE
from qiloop.fleet.registry.tables import metadata

connection = context.config.attributes.get("connection")
if context.is_offline_mode() or connection is None:
    raise ConfigurationError(
        "the fleet registry's migrations run only when qiloop opens the database",
        hint="open it with qiloop (e.g. qiloop fleet devices); QILOOP_FLEET_DB_URL names it",
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
