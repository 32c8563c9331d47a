"""The fleet registry on SQLAlchemy: tables, migrations, and the parts of :class:`~qiloop.fleet.registry_db.FleetDB`.

- :mod:`.tables`: the tables; :mod:`.migrate` and ``qiloop.fleet.migrations``: their schema revisions;
- :mod:`.database`: opening SQLite or PostgreSQL, read and write transactions;
- :mod:`.devices`, :mod:`.deployments`, :mod:`.keys`: what the controller, collector and CLI ask of it.
"""
