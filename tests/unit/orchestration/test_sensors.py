"""Each trigger through ``build_sensor_context`` on a persistent test instance, over real stores.

The cursor advances past what a tick handed to a run; a tick from the same cursor
again (a replayed event) asks for a run with the same run key, which Dagster starts once.
"""

from __future__ import annotations

import pytest

pytest.importorskip("dagster", reason="needs qiloop[orchestrate]")

import json
import time
import uuid
from datetime import datetime

import dagster as dg
from orchestration_helpers import approved, drop, png

from qiloop.orchestration.assets_model import CANDIDATE
from qiloop.orchestration.resources import resources_for
from qiloop.orchestration.sensors import (
    camera_folder_sensor,
    labels_approved_sensor,
    labels_wanted_sensor,
    model_approved_sensor,
)


def tick(sensor, instance, settings, cursor=None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources_for(settings)) as context:
        return sensor.evaluate_tick(context)


def keys(data) -> list[str]:
    return [r.run_key for r in data.run_requests]


def test_every_trigger_runs_by_default():
    for sensor in (camera_folder_sensor, labels_wanted_sensor, labels_approved_sensor, model_approved_sensor):
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, sensor.name


def test_new_camera_files_start_one_ingest_each_and_the_cursor_moves_past_them(settings, instance):
    folder = settings.camera_folder
    empty = tick(camera_folder_sensor, instance, settings)
    assert not empty.run_requests and "no new file" in empty.skip_message

    first_files = drop(folder, range(3))
    first = tick(camera_folder_sensor, instance, settings)
    [request] = first.run_requests
    assert sorted(request.run_config["ops"]["new_images"]["config"]["paths"]) == sorted(map(str, first_files))
    assert request.tags["qiloop/trigger"] == "camera_folder"
    # the same run opens the labelling job once label_job_min_images (3 here) wait: no second trigger needed
    assert request.run_config["ops"]["labeling_job"]["config"] == {"sources": ["unlabeled"], "min_images": 3}

    unchanged = tick(camera_folder_sensor, instance, settings, first.cursor)
    assert not unchanged.run_requests

    (folder / ".hidden.png").write_bytes(png(90))  # hidden and partial files are being written: not yet
    (folder / "frame-0100.png.part").write_bytes(png(91))
    later = drop(folder / "day-2", [100])
    second = tick(camera_folder_sensor, instance, settings, first.cursor)
    assert [r.run_config["ops"]["new_images"]["config"]["paths"] for r in second.run_requests] == [[str(later[0])]]
    assert keys(second) != keys(first)

    replayed = tick(camera_folder_sensor, instance, settings, first.cursor)
    assert keys(replayed) == keys(second)  # the same event, the same run key: one run


def test_enough_new_images_or_any_feedback_open_a_labelling_job(settings, instance, tmp_path):
    from qiloop.storage import ImageStore
    from qiloop.storage.feedback import FeedbackEntry

    images = ImageStore.from_settings(settings)
    nothing = tick(labels_wanted_sensor, instance, settings)
    assert not nothing.run_requests and "0 new image" in nothing.skip_message

    images.ingest(drop(tmp_path / "a", range(2)), source="camera")
    below = tick(labels_wanted_sensor, instance, settings)
    assert not below.run_requests and "2 new image" in below.skip_message and "opens at 3" in below.skip_message
    assert below.cursor is None  # waiting images keep counting until there are enough

    images.ingest(drop(tmp_path / "b", range(2, 4)), source="camera")
    enough = tick(labels_wanted_sensor, instance, settings)
    [request] = enough.run_requests
    assert request.run_config["ops"]["labeling_job"]["config"]["sources"] == ["unlabeled"]
    assert request.tags["qiloop/new_images"] == "4"
    assert not tick(labels_wanted_sensor, instance, settings, enough.cursor).run_requests

    record = images.ingest_bytes(png(50), name="returned.png", source="feedback:dev-1")
    entry = FeedbackEntry(
        image_sha256=record.sha256, image_name="returned.png", device_id="dev-1", sequence=7,
        reason="uncertain", model_name="scratch-detector", sent_at=record.ingested_at,
    )  # fmt: skip
    images.feedback.append([entry])
    feedback = tick(labels_wanted_sensor, instance, settings, enough.cursor)
    [request] = feedback.run_requests
    assert request.run_config["ops"]["labeling_job"]["config"]["sources"] == ["feedback"]
    assert json.loads(feedback.cursor)["images"] == json.loads(enough.cursor)["images"]  # 1 new image: below 3
    assert keys(tick(labels_wanted_sensor, instance, settings, enough.cursor)) == keys(feedback)
    assert not tick(labels_wanted_sensor, instance, settings, feedback.cursor).run_requests


def test_images_an_ingest_run_handles_are_left_to_it(settings, instance, tmp_path):
    from qiloop.storage import ImageStore

    images = ImageStore.from_settings(settings)
    images.ingest(drop(tmp_path / "a", range(3)), source="camera")
    ingesting = dg.DagsterRun(job_name="ingest", run_id=uuid.uuid4().hex, status=dg.DagsterRunStatus.STARTED,
                              tags={"qiloop/trigger": "camera_folder"})  # fmt: skip
    instance.add_run(ingesting)
    waiting = tick(labels_wanted_sensor, instance, settings)
    assert not waiting.run_requests and "ingest run in flight" in waiting.skip_message

    instance.delete_run(ingesting.run_id)  # the run is over, having opened a job over those images
    instance.report_runless_asset_event(
        dg.AssetMaterialization("labeling_job", metadata={"jobs": 1, "unlabeled_through": time.time()})
    )
    taken = tick(labels_wanted_sensor, instance, settings)
    assert not taken.run_requests and "0 new image" in taken.skip_message

    images.ingest(drop(tmp_path / "b", range(3, 6)), source="import")  # images that came otherwise still count
    [request] = tick(labels_wanted_sensor, instance, settings).run_requests
    assert request.run_config["ops"]["labeling_job"]["config"]["sources"] == ["unlabeled"]


def test_n_newly_approved_labels_start_training_once(settings, instance, tmp_path):
    from qiloop.labelstore import LabelStore
    from qiloop.labelstore.since import approved_since
    from qiloop.storage import ImageStore

    images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    records = images.ingest(drop(tmp_path / "imgs", range(7)), source="import").added
    assert not tick(labels_approved_sensor, instance, settings).run_requests  # an empty label store

    labels.append([approved(r) for r in records[:3]])
    below = tick(labels_approved_sensor, instance, settings)
    assert (
        not below.run_requests and "3 image(s) approved" in below.skip_message and "starts at 4" in below.skip_message
    )

    labels.append([approved(r) for r in records[3:5]])
    start = tick(labels_approved_sensor, instance, settings)
    [request] = start.run_requests
    assert request.tags["qiloop/approved"] == "5" and request.run_key.startswith("train:")
    assert keys(tick(labels_approved_sensor, instance, settings)) == keys(start)  # replayed: same key

    labels.append([approved(r) for r in records[5:]])
    after = tick(labels_approved_sensor, instance, settings, start.cursor)
    assert not after.run_requests and "2 image(s) approved since the last training" in after.skip_message
    # The tick read the file written after the cursor and the one holding the cursor's row, not the whole store.
    assert approved_since(labels, datetime.fromisoformat(start.cursor)).files_read == 2

    # A training started otherwise (the nightly schedule, a person) read the labels after those approvals:
    # they are no longer new.
    read_at = {"labels_read_at": time.time()}
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=CANDIDATE, metadata=read_at))
    trained = tick(labels_approved_sensor, instance, settings, start.cursor)
    assert not trained.run_requests and "0 image(s) approved since the last training" in trained.skip_message


@pytest.fixture
def registry(settings):
    pytest.importorskip("mlflow", reason="needs qiloop[registry]")
    from qiloop.registry import ModelRegistry

    return ModelRegistry.from_settings(settings)


def register(registry, package, *, approval="Approved"):
    with registry.start_candidate_run("scratch-detector", {"epochs": 1}) as run:
        run.set_tags({"gate_passed": "true", "gate_reasons": "passed: mAP50 0.6 reaches the minimum 0.5"})
        return registry.register(run, package, name="scratch-detector", approval=approval)


def test_a_newly_approved_version_rolls_out_once(settings, instance, registry, tiny_package, tiny_package_v2):
    none = tick(model_approved_sensor, instance, settings)
    assert not none.run_requests and "no approved version" in none.skip_message

    pending = register(registry, tiny_package, approval="PendingManualApproval")
    assert not tick(model_approved_sensor, instance, settings).run_requests  # not approved: not production

    registry.approve(pending.ref, "checked on the line", actor="ana")
    first = tick(model_approved_sensor, instance, settings)
    [request] = first.run_requests
    assert request.run_key == f"rollout:{pending.ref}" and first.cursor == pending.ref
    assert request.run_config["ops"]["rollout"]["config"]["ref"] == pending.ref
    assert not tick(model_approved_sensor, instance, settings, first.cursor).run_requests

    second = register(registry, tiny_package_v2)
    rolled = tick(model_approved_sensor, instance, settings, first.cursor)
    assert keys(rolled) == [f"rollout:{second.ref}"]


def test_the_rollout_trigger_checks_the_gate_itself(settings, instance, registry, tiny_package):
    from qiloop.orchestration.assets_model import CANDIDATE

    version = register(registry, tiny_package)
    # Dagster's gate check failed on the candidate of this version's run (recorded in another run):
    # a blocking check stops nothing across runs, so the sensor must refuse it.
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(CANDIDATE),
            check_name="gate",
            passed=False,
            metadata={"run_id": version.run_id},
            severity=dg.AssetCheckSeverity.ERROR,
        )
    )
    refused = tick(model_approved_sensor, instance, settings)
    assert not refused.run_requests and "gate check failed" in refused.skip_message

    # A version whose training run recorded a failed gate is refused from the MLflow record alone.
    registry.run(version.run_id).set_tags({"gate_passed": "false", "gate_reasons": "recall 0.2 is below 0.6"})
    fresh = dg.instance_for_test()
    with fresh as other:
        refused = tick(model_approved_sensor, other, settings)
    assert not refused.run_requests and "recall 0.2 is below 0.6" in refused.skip_message
