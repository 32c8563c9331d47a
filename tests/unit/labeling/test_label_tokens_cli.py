"""`qiloop labeling users tokens|revoke`: listing an account's API tokens and revoking one or all."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from labeling_helpers import add_users
from qiloop.cli import labeling as label_cli
from qiloop.cli.main import main
from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.labeling import auth
from qiloop.labeling.db import Database
from qiloop.labeling.workforce import find_user
from qiloop.settings import Settings

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(label_cli.app, name="labeling")
    return root


def invoke(app, home, *args):
    return runner.invoke(app, ["labeling", "users", *map(str, args), "--home", str(home)])


def code(home, *args) -> int:
    """The exit code of the real command line (errors mapped to their documented codes)."""
    return main(["labeling", "users", *map(str, args), "--home", str(home)])


def works(db, token: str) -> bool:
    with db.session() as session:
        return auth.user_for_token(session, token) is not None


def test_list_and_revoke_one_token_then_all(app, tmp_path):
    home = tmp_path / "home"
    db = Database.from_settings(Settings(home=home))
    add_users(db, "ann", "bob")
    with db.session() as session:
        ann, bob = find_user(session, "ann"), find_user(session, "bob")
        first, second, third = (auth.issue_api_token(session, ann, n) for n in ("ci", "laptop", "cron"))
        bobs = auth.issue_api_token(session, bob, "ci")

    listed = invoke(app, home, "tokens", "ann", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["name"] for r in rows] == ["ci", "laptop", "cron"] and all(r["live"] for r in rows)
    assert not any(token in listed.output for token in (first, second, third))  # only hashes are kept

    one = invoke(app, home, "revoke", "ann", "--id", rows[1]["id"], "--json")
    assert one.exit_code == 0 and json.loads(one.output)["revoked"] == 1
    assert (works(db, first), works(db, second), works(db, third)) == (True, False, True)

    assert code(home, "revoke", "ann", "--id", 999999) == NotFoundError.exit_code  # no such token of ann's
    assert code(home, "revoke", "ann") == ConfigurationError.exit_code  # neither --id nor --all
    assert code(home, "revoke", "ann", "--id", rows[0]["id"], "--all") == ConfigurationError.exit_code

    every = invoke(app, home, "revoke", "ann", "--all", "--json")
    assert json.loads(every.output)["revoked"] == 2  # the two still live
    assert not works(db, first) and not works(db, third) and works(db, bobs)  # bob keeps his
    after = json.loads(invoke(app, home, "tokens", "ann", "--json").output)
    assert not any(r["live"] for r in after) and all(r["revoked_at"] for r in after)
    table = invoke(app, home, "tokens", "ann")
    assert table.exit_code == 0 and "laptop" in table.output and "ended" in table.output
    assert code(home, "tokens", "nobody") == NotFoundError.exit_code
