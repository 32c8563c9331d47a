"""Fixtures shared by the integration tests: a throwaway PostgreSQL database.

``postgres_url`` creates a fresh database on the local server (127.0.0.1:5432, trust
auth), hands over its URL and drops it afterwards. Without the server or psycopg2 the
test skips with the reason, and fails where PostgreSQL is required (CI, see require_helpers).
"""

from __future__ import annotations

import uuid

import pytest

from require_helpers import require, require_import

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def postgres_url(request) -> str:
    """The URL of a new, empty PostgreSQL database, dropped after the test (its name says which test made it)."""
    psycopg2 = require_import("postgres", "psycopg2", "psycopg2 is needed to create the test database")
    try:
        admin = psycopg2.connect(f"{POSTGRES_SERVER}/postgres", connect_timeout=3)
    except psycopg2.OperationalError as exc:
        require("postgres", f"PostgreSQL is not reachable at {POSTGRES_SERVER}: {exc}".strip())
    admin.autocommit = True
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:24]
    name = f"qiloop_{module}_{uuid.uuid4().hex[:12]}".lower()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')  # name is generated above, not user input
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
