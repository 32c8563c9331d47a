"""Resources are configuration until a step uses them; a deployment swaps or changes them by key."""

from __future__ import annotations

import pytest

pytest.importorskip("dagster", reason="needs qiloop[orchestrate]")


from qiloop.core.errors import ConfigurationError
from qiloop.orchestration.resources import FleetResource, ImageStoreResource, resources_for


def test_building_the_resources_opens_nothing(settings):
    resources = resources_for(settings)
    assert set(resources) == {"images", "labels", "registry", "labeling_db", "fleet", "loop"}
    assert not settings.home.exists()
    store = resources["images"].open()
    assert settings.home.exists() and store.url.endswith("images")
    assert resources["images"].open() is store  # opened once


def test_a_resource_is_swapped_or_changed_by_key(settings, tmp_path):
    other = ImageStoreResource(url=str(tmp_path / "elsewhere"))
    resources = resources_for(settings, images=other, fleet={"wait_s": 60, "group": "line-2"})
    assert resources["images"] is other
    fleet = resources["fleet"]
    assert isinstance(fleet, FleetResource) and fleet.home == str(settings.home)
    assert (fleet.wait_s, fleet.target(), fleet.policy().canary) == (60, "line-2", 1)
    assert resources_for(settings)["fleet"].target() == settings.rollout_group
    with pytest.raises(ConfigurationError, match="no resource named"):
        resources_for(settings, broker={})


def test_without_settings_the_home_is_read_when_first_used(tmp_path, monkeypatch):
    resources = resources_for()
    monkeypatch.setenv("QILOOP_HOME", str(tmp_path / "from-env"))
    monkeypatch.setenv("QILOOP_RETRAIN_AFTER_LABELS", "7")
    assert resources["loop"].loop_settings().retrain_after_labels == 7
    assert resources["labels"].open().url.startswith(str(tmp_path / "from-env"))
