"""Fixtures shared by the whole suite, and the rule that a required service never skips."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from package_helpers import shared
from require_helpers import pytest_runtest_makereport, require, required_kinds  # noqa: F401 (a hook)

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "metal-tags"


CACHES = {".pytest_cache", ".hypothesis", ".ruff_cache", "__pycache__"}


def pytest_configure(config: pytest.Config) -> None:
    required_kinds()  # an unknown kind in QILOOP_TEST_REQUIRE is a usage error before any test runs
    config.stash[_REPO_ENTRIES] = {p.name for p in REPO.iterdir()}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test (or the code it runs) left files in the repository's top folder.

    Every file belongs under a home or a temporary folder; a ``fleet.db`` or a
    ``runs/`` appearing here means something used the working directory.
    """
    before = session.config.stash.get(_REPO_ENTRIES, None)
    if before is None:
        return
    left = sorted({p.name for p in REPO.iterdir()} - before - CACHES)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"qiloop: the run left {left} in {REPO}: write under a home or tmp_path", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_REPO_ENTRIES = pytest.StashKey[set]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Undo ultralytics' patch of ``PIL.Image.open`` before each test.

    Importing ultralytics (``pytest.importorskip("ultralytics")`` at collection
    included) patches it for the whole process: an unreadable image then
    becomes a network install attempt (``ModuleNotFoundError`` offline)
    instead of Pillow's error, and the image store's checks of every later test
    would see the wrong error. qiloop itself imports ultralytics through the
    adapter, which undoes the patch the same way.
    """
    import signal

    from PIL import Image

    # Dagster's in-process execution maps SIGTERM to KeyboardInterrupt and leaves it so (qiloop's own
    # in-process runs restore it; tests that call dagster directly do not): give each test the default.
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # An ignored SIGINT is inherited by every child process, which then never sees Ctrl-C.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if Image.open.__module__ != "PIL.Image":
        from qiloop.training.ultralytics_adapter import restore_pil_open

        restore_pil_open()


def pytest_report_header(config: pytest.Config) -> str:
    kinds = sorted(required_kinds())
    return f"qiloop: required (fail, never skip): {', '.join(kinds) or 'nothing (missing services skip)'}"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real metal-tag photos and labels.csv, beside the repository; skips (or fails where required) when absent."""
    if not (REAL_DATA / "labels.csv").is_file():
        require("realdata", f"real metal-tag data not found at {REAL_DATA} (it lives outside the project)")
    return REAL_DATA


@pytest.fixture(scope="session")
def tiny_package(tmp_path_factory) -> Iterator[Path]:
    """The tiny detector of ``tiny_models.py`` at 64x96, one class, FP32 and INT8, version 1 (no torch needed).

    Shared by the session: a test that changes a package copies it first.
    """
    from tiny_models import tiny_package as build

    with shared(build(tmp_path_factory.mktemp("tiny") / "package", int8=True)) as package:
        yield package


@pytest.fixture(scope="session")
def tiny_package_v2(tmp_path_factory) -> Iterator[Path]:
    """Another tiny detector (other weights), version 2, FP32 and INT8; shared like ``tiny_package``."""
    from tiny_models import tiny_package as build

    with shared(build(tmp_path_factory.mktemp("tiny-v2") / "package", seed=1, version="2", int8=True)) as package:
        yield package


@pytest.fixture(scope="session")
def yolo_package(tmp_path_factory) -> Iterator[Path]:
    """An ultralytics-exported YOLOv8n (seeded, untrained) at 64x96, FP32 and INT8, version 1.

    Exported once and kept in ``.pytest_cache`` (see ``onnx_models.py``); shared like ``tiny_package``.
    """
    pytest.importorskip("ultralytics", reason="an ultralytics-exported model needs the train extra")
    from onnx_models import build_package

    with shared(build_package(tmp_path_factory.mktemp("yolo") / "package", (64, 96), int8=True)) as package:
        yield package


@pytest.fixture(scope="session")
def yolo_package_v2(tmp_path_factory) -> Iterator[Path]:
    """``yolo_package`` with other weights (seed 1), version 2; shared like ``tiny_package``."""
    pytest.importorskip("ultralytics", reason="an ultralytics-exported model needs the train extra")
    from onnx_models import build_package

    folder = tmp_path_factory.mktemp("yolo-v2") / "package"
    with shared(build_package(folder, (64, 96), seed=1, version="2", int8=True)) as package:
        yield package
