"""The nightly retrain starts a run only when labels were written since the candidate last trained on."""

from __future__ import annotations

import pytest

pytest.importorskip("dagster", reason="needs qiloop[orchestrate]")

import dagster as dg
from orchestration_helpers import approved, drop

from qiloop.orchestration.assets_model import CANDIDATE
from qiloop.orchestration.resources import resources_for
from qiloop.orchestration.schedules import nightly_retrain


def evaluate(instance, settings, **swap):
    with dg.build_schedule_context(instance=instance, resources=resources_for(settings, **swap)) as context:
        return nightly_retrain.evaluate_tick(context)


def test_nightly_retrain_follows_label_store_writes(settings, instance, tmp_path):
    from qiloop.labelstore import LabelStore
    from qiloop.labelstore.upkeep import upkeep
    from qiloop.storage import ImageStore

    assert nightly_retrain.default_status == dg.DefaultScheduleStatus.RUNNING
    empty = evaluate(instance, settings)
    assert not empty.run_requests and "empty" in empty.skip_message

    images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    records = images.ingest(drop(tmp_path / "imgs", range(4))).added
    labels.append([approved(r) for r in records[:2]])
    [first] = evaluate(instance, settings).run_requests  # never trained: train
    assert first.run_key == f"nightly:{labels.version()}" and first.tags["qiloop/trigger"] == "nightly_retrain"

    metadata = {"label_store_version": float(labels.version())}  # a candidate trained on this version
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=CANDIDATE, metadata=metadata))
    upkeep(labels)  # a compaction is a new version that writes no label
    unchanged = evaluate(instance, settings)
    assert not unchanged.run_requests and "no label written since the last training" in unchanged.skip_message

    labels.append([approved(r) for r in records[2:]])
    [again] = evaluate(instance, settings, loop={"gpu_training": True}).run_requests
    assert again.run_key == f"nightly:{labels.version()}"
    assert "dagster-k8s/config" in again.tags  # asked for a GPU node
    assert again.run_config["ops"]["train"]["config"]["overrides"] == ["device=0"]
