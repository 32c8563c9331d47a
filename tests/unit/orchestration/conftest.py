"""A qiloop home per test and a persistent Dagster test instance."""

from __future__ import annotations

import pytest


@pytest.fixture
def settings(tmp_path):
    from qiloop.settings import load_settings

    return load_settings(home=tmp_path / "home", label_job_min_images=3, retrain_after_labels=4)


@pytest.fixture
def instance():
    """A persistent test instance (sensors need one; an ephemeral instance keeps no runs)."""
    import dagster as dg

    with dg.instance_for_test() as inst:
        yield inst
