"""The SQLite engine both service databases open (labelling, fleet): folder, pragmas, when the write lock is taken."""

from __future__ import annotations

import importlib.util
import sqlite3

import pytest

pytest.importorskip("sqlalchemy", reason="needs qiloop[label] or qiloop[fleet]")

from sqlalchemy import text
from sqlalchemy.engine import make_url

from qiloop.core.errors import ConfigurationError, MissingDependencyError, StoreError
from qiloop.sqlengine import READ_ONLY, parse_url, sqlite_engine, with_driver


def engine_at(path, **kwargs):
    return sqlite_engine(
        make_url(f"sqlite:///{path}"), name="the test database", variable="QILOOP_TEST_DB_URL", **kwargs
    )


def pragma(engine, name: str):
    with engine.connect() as connection:
        return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


@pytest.mark.parametrize("foreign_keys", [True, False])
def test_the_engine_makes_its_folder_and_sets_wal_and_foreign_keys_as_asked(tmp_path, foreign_keys):
    engine = engine_at(tmp_path / "new" / "deeper" / "x.db", foreign_keys=foreign_keys)
    try:
        assert pragma(engine, "journal_mode") == "wal"
        assert pragma(engine, "foreign_keys") == int(foreign_keys)
        assert (tmp_path / "new" / "deeper" / "x.db").is_file()
    finally:
        engine.dispose()


def test_a_write_transaction_holds_the_lock_from_its_start_and_a_read_only_one_never_waits(tmp_path):
    path = tmp_path / "x.db"
    engine = engine_at(path)
    try:
        with engine.begin() as writer:
            writer.execute(text("CREATE TABLE t (v INTEGER)"))
        with engine.begin():  # nothing written yet: BEGIN IMMEDIATE already holds the write lock
            other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
            with engine.connect() as reader:
                reader.execution_options(**{READ_ONLY: True})
                with reader.begin():
                    assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 0
    finally:
        engine.dispose()


def test_a_folder_that_cannot_be_made_names_the_database_and_the_variable(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError, match=r"cannot create the folder .* for the test database") as err:
        engine_at(tmp_path / "file" / "x.db")
    assert "QILOOP_TEST_DB_URL" in err.value.hint


def test_a_url_sqlalchemy_cannot_read_names_the_setting():
    with pytest.raises(ConfigurationError, match="fleet_db_url 'not a url' is not a database URL") as err:
        parse_url("not a url", "fleet_db_url")
    assert "sqlite:///path" in err.value.hint
    assert parse_url("sqlite:///x.db", "fleet_db_url").get_backend_name() == "sqlite"


@pytest.mark.parametrize(
    ("url", "installed", "expected"),
    [
        ("postgresql://u@h/db", {"psycopg", "psycopg2"}, "postgresql://u@h/db"),  # psycopg 3: SQLAlchemy's default
        ("postgresql://u@h/db", {"psycopg2"}, "postgresql+psycopg2://u@h/db"),
        ("postgresql+psycopg2://u@h/db", set(), "postgresql+psycopg2://u@h/db"),  # a named driver is kept
        ("sqlite:///x.db", set(), "sqlite:///x.db"),
    ],
)
def test_postgresql_gets_a_driver_that_is_installed(monkeypatch, url, installed, expected):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: real("sqlite3") if name in installed else None)
    assert with_driver(make_url(url), "fleet").render_as_string() == expected


def test_no_postgresql_driver_names_the_extra(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(MissingDependencyError) as err:
        with_driver(make_url("postgresql://u@h/db"), "label")
    assert err.value.package == "psycopg2-binary" and err.value.extra == "label"
