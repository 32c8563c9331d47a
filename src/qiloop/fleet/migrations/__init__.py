"""Alembic scripts of the fleet registry's schema (run by :mod:`qiloop.fleet.registry.migrate`)."""
