"""What a test needs from outside the project: skip on a developer's machine, fail where it is required.

A test that needs the MQTT broker, PostgreSQL, Chromium, the S3 test server or the real
photos calls :func:`require` (or :func:`require_import`) when the thing is missing. On a
developer's machine that skips the test with the reason; under CI it fails the test, so a
service that the CI script did not start turns the run red instead of silently green.

Which kinds are required comes from the environment:

- ``CI`` set to ``true``/``1``/``yes`` requires every kind;
- ``QILOOP_TEST_REQUIRE`` lists kinds (``broker,postgres,browser,s3,realdata``, or ``all``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import ModuleType
from typing import NoReturn

import pytest

KINDS = ("broker", "postgres", "browser", "s3", "realdata")
TRUE = {"1", "true", "yes", "on"}


def required_kinds(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The kinds this run must not skip (raises ``pytest.UsageError`` on an unknown kind)."""
    env = os.environ if environ is None else environ
    if env.get("CI", "").strip().lower() in TRUE:
        return frozenset(KINDS)
    listed = {k.strip().lower() for k in env.get("QILOOP_TEST_REQUIRE", "").replace(" ", ",").split(",")}
    listed.discard("")
    if "all" in listed:
        return frozenset(KINDS)
    unknown = sorted(listed - set(KINDS))
    if unknown:
        raise pytest.UsageError(
            f"QILOOP_TEST_REQUIRE names unknown kinds {', '.join(unknown)}; use some of {', '.join(KINDS)} or 'all'"
        )
    return frozenset(listed)


def why_required(kind: str, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    if env.get("CI", "").strip().lower() in TRUE:
        return f"CI={env['CI']} requires every kind ({', '.join(KINDS)})"
    return f"QILOOP_TEST_REQUIRE={env.get('QILOOP_TEST_REQUIRE', '')} requires {kind!r}"


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown requirement {kind!r}; one of {', '.join(KINDS)}")


def require(kind: str, reason: str, *, environ: Mapping[str, str] | None = None) -> NoReturn:
    """``kind`` is missing for ``reason``: skip the test, or fail it where ``kind`` is required."""
    _check_kind(kind)
    if kind in required_kinds(environ):
        pytest.fail(f"{reason} [{why_required(kind, environ)}: start it or unset the requirement]", pytrace=False)
    pytest.skip(f"{reason} [needs {kind}]", allow_module_level=True)


def require_import(kind: str, module: str, reason: str) -> ModuleType:
    """``import module``, or :func:`require` ``kind`` with ``reason`` when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        require(kind, f"{reason} ({exc})")


def required_marks(item: pytest.Item) -> list[str]:
    """The kinds ``item`` is marked with (``@pytest.mark.broker`` …) that this run requires."""
    wanted = required_kinds()
    return [m.name for m in item.iter_markers() if m.name in wanted]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A test marked ``broker``/``postgres``/… that skipped, where that kind is required, fails instead."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    kinds = required_marks(item)
    if kinds:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"skipped although it is marked {', '.join(kinds)}: {reason} [{why_required(kinds[0])}]"
