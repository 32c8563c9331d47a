"""The immediate write transaction: commit, rollback, and a held lock reported by name."""

from __future__ import annotations

import sqlite3

import pytest

from qiloop.core.errors import StoreError
from qiloop.core.sqlite_tx import WriteTransaction


def connect(path, timeout: float = 5.0) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=timeout)
    db.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
    return db


def test_commits_on_success_and_rolls_back_on_error(tmp_path):
    db = connect(tmp_path / "x.db")
    with WriteTransaction(db):
        db.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(ValueError), WriteTransaction(db):
        db.execute("INSERT INTO t VALUES (2)")
        raise ValueError("boom")
    assert [r[0] for r in db.execute("SELECT v FROM t")] == [1]
    assert not db.in_transaction


def test_the_lock_is_taken_at_the_start_and_a_named_store_reports_it(tmp_path):
    holder, waiter = connect(tmp_path / "x.db"), connect(tmp_path / "x.db", timeout=0.05)
    with WriteTransaction(holder):
        with pytest.raises(sqlite3.OperationalError, match="locked"), WriteTransaction(waiter):
            pass  # no statement ran: BEGIN IMMEDIATE itself waits for the writer
        with (
            pytest.raises(StoreError, match="cannot write the test database"),
            WriteTransaction(waiter, "the test database"),
        ):
            pass
    with WriteTransaction(waiter, "the test database"):
        waiter.execute("INSERT INTO t VALUES (3)")
    assert [r[0] for r in holder.execute("SELECT v FROM t")] == [3]
