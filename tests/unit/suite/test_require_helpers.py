"""The suite's own rule: a missing service skips on a developer's machine and fails where it is required."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from require_helpers import KINDS, require, required_kinds

TESTS = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, set()),
        ({"CI": "false"}, set()),
        ({"CI": "true"}, set(KINDS)),
        ({"CI": "1", "QILOOP_TEST_REQUIRE": "broker"}, set(KINDS)),
        ({"QILOOP_TEST_REQUIRE": "broker, postgres"}, {"broker", "postgres"}),
        ({"QILOOP_TEST_REQUIRE": "all"}, set(KINDS)),
    ],
)
def test_required_kinds_come_from_ci_or_the_list(environ, expected):
    assert required_kinds(environ) == expected


def test_an_unknown_kind_in_the_list_is_a_usage_error():
    with pytest.raises(pytest.UsageError, match="unknown kinds brokr"):
        required_kinds({"QILOOP_TEST_REQUIRE": "brokr"})


def test_require_skips_on_a_developers_machine():
    with pytest.raises(pytest.skip.Exception, match=r"no broker here \[needs broker\]"):
        require("broker", "no broker here", environ={})
    with pytest.raises(pytest.skip.Exception):
        require("broker", "no broker here", environ={"QILOOP_TEST_REQUIRE": "postgres"})


@pytest.mark.parametrize("environ", [{"CI": "true"}, {"QILOOP_TEST_REQUIRE": "postgres"}])
def test_require_fails_where_the_kind_is_required(environ):
    with pytest.raises(pytest.fail.Exception, match=r"PostgreSQL is down.*requires"):
        require("postgres", "PostgreSQL is down", environ=environ)


def test_an_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown requirement 'mqtt'"):
        require("mqtt", "typo", environ={})


SAMPLE = """
import pytest
from require_helpers import require


@pytest.mark.broker
def test_marked_skip():
    pytest.skip("the broker is away")


def test_helper_skip():
    require("postgres", "PostgreSQL is away")


def test_unrelated_skip():
    pytest.skip("nothing to do with services")
"""


def run_sample(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """A real pytest run of ``SAMPLE`` with the suite's hook, in ``env`` (CI and the list cleared first)."""
    (tmp_path / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
        "from require_helpers import pytest_runtest_makereport  # noqa: F401\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    broker: needs the broker\n")
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(SAMPLE))
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "QILOOP_TEST_REQUIRE", "PYTEST_ADDOPTS")}
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", str(tmp_path)]
    return subprocess.run(argv, cwd=tmp_path, env={**clean, **env}, capture_output=True, text=True, timeout=120)


def test_a_developer_run_skips_and_passes(tmp_path):
    run = run_sample(tmp_path)
    assert run.returncode == 0, run.stdout
    assert "3 skipped" in run.stdout


def test_a_ci_run_fails_marked_and_helper_skips_but_not_unrelated_ones(tmp_path):
    run = run_sample(tmp_path, CI="true")
    assert run.returncode == 1, run.stdout
    assert "2 failed, 1 skipped" in run.stdout
    assert "skipped although it is marked broker: the broker is away" in run.stdout
    assert "PostgreSQL is away" in run.stdout and "CI=true requires every kind" in run.stdout


def test_the_list_requires_only_what_it_names(tmp_path):
    run = run_sample(tmp_path, QILOOP_TEST_REQUIRE="broker")
    assert run.returncode == 1, run.stdout
    assert "1 failed, 2 skipped" in run.stdout
