"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "metal-tags"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real metal-tag photos and labels.csv, beside the repository; skips when absent."""
    if not (REAL_DATA / "labels.csv").is_file():
        pytest.skip(f"real metal-tag data not found at {REAL_DATA} (it lives outside the project)")
    return REAL_DATA
