"""Fixtures shared by the whole suite, and the rule that a required service never skips."""

from __future__ import annotations

from pathlib import Path

import pytest

from require_helpers import pytest_runtest_makereport, require, required_kinds  # noqa: F401 (a hook)

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "metal-tags"


def pytest_configure(config: pytest.Config) -> None:
    required_kinds()  # an unknown kind in QILOOP_TEST_REQUIRE is a usage error before any test runs


def pytest_report_header(config: pytest.Config) -> str:
    kinds = sorted(required_kinds())
    return f"qiloop: required (fail, never skip): {', '.join(kinds) or 'nothing (missing services skip)'}"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real metal-tag photos and labels.csv, beside the repository; skips (or fails where required) when absent."""
    if not (REAL_DATA / "labels.csv").is_file():
        require("realdata", f"real metal-tag data not found at {REAL_DATA} (it lives outside the project)")
    return REAL_DATA
