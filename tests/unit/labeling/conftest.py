"""A real SQLite labelling database in a temporary folder."""

from __future__ import annotations

import pytest

from qiloop.labeling.db import Database


@pytest.fixture
def db(tmp_path):
    database = Database.from_url(f"sqlite:///{tmp_path / 'labeling.db'}")
    yield database
    database.dispose()
