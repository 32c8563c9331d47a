"""The login throttle: the pure wait rule, then the rows on a real SQLite database, then `label users unlock`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from labeling_helpers import add_users
from qiloop.cli.main import main
from qiloop.core.errors import ConfigurationError
from qiloop.labeling import throttle
from qiloop.labeling.db import Database
from qiloop.labeling.errors import ThrottledError
from qiloop.labeling.models import LoginFailure
from qiloop.labeling.throttle import Policy, wait

T0 = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)
WINDOW = timedelta(minutes=15)
POLICY = Policy(max_failures=5, max_client_failures=20, window=WINDOW)
S = timedelta(seconds=1)


def at(*seconds: float) -> list[datetime]:
    return [T0 + timedelta(seconds=s) for s in seconds]


@pytest.mark.parametrize(
    ("user_failures", "client_failures", "now", "expected"),
    [
        (at(0, 1, 2, 3), [], T0 + 10 * S, 0.0),  # below the limit
        (at(0, 1, 2, 3, 4), [], T0 + 10 * S, 900.0 - 10),  # at the limit: until the oldest leaves the window
        (at(0, 1, 2, 3, 4), [], T0 + WINDOW - S, 1.0),  # one second before the window's edge
        (at(0, 1, 2, 3, 4), [], T0 + WINDOW, 0.0),  # a failure exactly a window old no longer counts
        (at(-1, 1, 2, 3, 4, 5), [], T0 + WINDOW, 1.0),  # the oldest expired; five left until the next leaves
        (at(0, 1, 2, 3, 4, 5, 6), [], T0 + 10 * S, 900.0 - 8),  # above the limit: until all but four have left
        (at(-901, -900, 1, 2, 3), [], T0, 0.0),  # old failures are ignored
        ([], at(*range(19)), T0 + 60 * S, 0.0),  # a client below its limit
        ([], at(*range(20)), T0 + 60 * S, 900.0 - 60),  # a client at its limit, whatever the username
        (at(100, 101, 102, 103, 104), at(*range(20)), T0 + 200 * S, 900.0 - 100),  # the later of the two
    ],
)
def test_wait_counts_failures_inside_the_window(user_failures, client_failures, now, expected):
    assert wait(POLICY, user_failures, client_failures, now) == pytest.approx(expected)


@pytest.mark.parametrize(
    "fields", [{"max_failures": 0}, {"max_client_failures": 0}, {"window": timedelta(0)}, {"window": -S}]
)
def test_a_policy_needs_positive_limits(fields):
    with pytest.raises(ConfigurationError, match="positive limits") as caught:
        Policy(**fields)
    assert "QILOOP_LABELING_LOGIN_MAX_FAILURES" in caught.value.hint


@pytest.mark.parametrize(
    ("seconds", "message"), [(1, "in 1 minute"), (60, "in 1 minute"), (61, "in 2 minutes"), (900, "in 15 minutes")]
)
def test_the_refusal_says_when_to_try_again(seconds, message):
    refusal = ThrottledError(seconds)
    assert refusal.message == f"too many failed attempts; try again {message}"
    assert refusal.retry_after_s == seconds and "qiloop labeling users unlock" in refusal.hint


def admit(db: Database, username: str, client: str = "10.0.0.1", now: datetime = T0, policy: Policy = POLICY):
    with db.session() as session:
        throttle.admit(session, policy, username, client, now)


def rows(db: Database, **where) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(LoginFailure).filter_by(**where)
        return session.scalar(query)


def test_five_failures_refuse_the_sixth_attempt_until_the_window_allows(db):
    add_users(db, "alice")
    for i in range(5):
        admit(db, "alice", now=T0 + i * S)
    with pytest.raises(ThrottledError) as caught:
        admit(db, "alice", now=T0 + 10 * S)
    assert caught.value.retry_after_s == 890
    assert rows(db, username="alice") == 5  # a refused attempt is not recorded
    admit(db, "bob", now=T0 + 10 * S)  # another username is not affected
    admit(db, "alice", now=T0 + WINDOW)  # the oldest failure has left the window


def test_a_username_that_does_not_exist_is_throttled_the_same_way(db):
    add_users(db, "alice")
    refusals = {}
    for name in ("alice", "ghost"):
        for i in range(5):
            admit(db, name, client=f"10.0.0.{len(refusals) + 1}", now=T0 + i * S)
        with pytest.raises(ThrottledError) as caught:
            admit(db, name, client=f"10.0.0.{len(refusals) + 1}", now=T0 + 10 * S)
        refusals[name] = (caught.value.message, caught.value.retry_after_s)
    assert refusals["alice"] == refusals["ghost"]


def test_a_success_clears_the_usernames_failures_only(db):
    for i in range(4):
        admit(db, "alice", now=T0 + i * S)
    admit(db, "bob", now=T0)
    with db.session() as session:
        assert throttle.forget(session, "alice") == 4
    assert rows(db, username="alice") == 0 and rows(db, username="bob") == 1
    for i in range(5):  # the count starts again from nothing
        admit(db, "alice", now=T0 + (10 + i) * S)
    with pytest.raises(ThrottledError):
        admit(db, "alice", now=T0 + 20 * S)


def test_a_client_is_refused_after_its_limit_whatever_the_usernames(db):
    for i in range(20):
        admit(db, f"user-{i}", client="10.0.0.9", now=T0 + i * S)
    with pytest.raises(ThrottledError) as caught:
        admit(db, "fresh-name", client="10.0.0.9", now=T0 + 30 * S)
    assert caught.value.retry_after_s == 870
    admit(db, "fresh-name", client="10.0.0.10", now=T0 + 30 * S)  # another address is not affected
    admit(db, "fresh-name", client="10.0.0.9", now=T0 + WINDOW)


def test_old_rows_are_pruned_when_an_attempt_is_admitted(db):
    for i in range(3):
        admit(db, "alice", now=T0 + i * S)
    admit(db, "bob", now=T0 + WINDOW + 2 * S)
    assert rows(db, username="alice") == 0 and rows(db, username="bob") == 1


def test_a_long_client_address_is_cut_to_the_column(db):
    admit(db, "alice", client="x" * 200)
    assert rows(db, client="x" * 64) == 1


def test_label_users_unlock_forgets_the_failures(tmp_path, capsys):
    home = str(tmp_path / "home")
    db = Database.from_url(f"sqlite:///{tmp_path / 'home' / 'labeling.db'}")
    try:
        for i in range(5):
            admit(db, "alice", now=T0 + i * S)
        assert main(["labeling", "users", "unlock", "alice", "--home", home, "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == {"username": "alice", "failures_forgotten": 5}
        admit(db, "alice", now=T0 + 10 * S)
        assert main(["labeling", "users", "unlock", "alice", "--home", home]) == 0
        assert "forgot 1 failed password check(s) of alice" in capsys.readouterr().out
    finally:
        db.dispose()
