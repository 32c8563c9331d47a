"""The loop's state read from a real home: stores, labelling database, registry, fleet database."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone

import pytest

from browser_helpers import synth_images
from qiloop.core.package import read_manifest, write_manifest
from qiloop.core.records import Box, LabelRecord, LabelStatus
from qiloop.settings import Settings
from qiloop.stack.loop_state import loop_state


def approved(image) -> LabelRecord:
    return LabelRecord(
        image_uri=image.uri, image_sha256=image.sha256, image_width=image.width, image_height=image.height,
        image_depth=image.depth, event_time=datetime.now(timezone.utc), status=LabelStatus.APPROVED,
        annotations=(Box(class_id=0, left=1, top=1, width=5, height=5),),
    )  # fmt: skip


def test_an_empty_home_is_an_empty_loop_and_nothing_is_created(tmp_path):
    state = loop_state(Settings(home=tmp_path))
    assert (state.images, state.images_waiting, state.production) == (0, 0, None)
    assert state.jobs_open == [] and state.devices == []
    assert state.unavailable == {}
    assert list(tmp_path.iterdir()) == []


def test_images_labels_and_jobs_are_counted(tmp_path):
    from qiloop.labeling import jobs
    from qiloop.labeling.db import Database
    from qiloop.labelstore import LabelStore
    from qiloop.storage import ImageStore
    from qiloop.storage.feedback import FeedbackEntry

    settings = Settings(home=tmp_path)
    records, _ = synth_images(ImageStore.from_settings(settings), photos=2, size=(256, 192), seed=5)
    assert len(records) >= 4
    LabelStore.from_settings(settings).append([approved(r) for r in records[:2]])
    db = Database.from_settings(settings)
    with db.session() as session:
        jobs.create_job(session, jobs.JobSpec.build(name="j1", classes=["scratch"]), records[2:3])
    sent = [records[0], records[3], records[3]]  # approved already, waiting (twice: one image)
    ImageStore.from_settings(settings).feedback.append([
        FeedbackEntry(image_sha256=r.sha256, image_name="x.png", device_id="cam-1", sequence=i, reason="uncertain",
                      model_name="scratch-detector", sent_at=datetime.now(timezone.utc))
        for i, r in enumerate(sent)
    ])  # fmt: skip
    state = loop_state(settings)
    assert state.images == len(records)
    assert state.approved_labels == 2
    assert state.images_waiting == len(records) - 3  # neither approved nor in a job
    assert state.feedback_waiting == 1
    assert [(j.name, j.images, j.labeling) for j in state.jobs_open] == [("j1", 1, 1)]
    assert state.labels_since_training == 2  # nothing trained yet
    assert state.last_trained is None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("other_store", "since"), [(False, 3), (True, 5)], ids=["trained-here", "trained-on-another-label-store"]
)
def test_labels_since_the_last_training_production_and_devices(tmp_path, tiny_package, other_store, since):
    pytest.importorskip("mlflow", reason="the registry needs the registry extra")
    from qiloop.fleet.registry_db import DeviceHello, FleetDB
    from qiloop.labelstore import LabelStore
    from qiloop.registry import ModelRegistry
    from qiloop.storage import ImageStore

    settings = Settings(home=tmp_path)
    records, _ = synth_images(ImageStore.from_settings(settings), photos=2, size=(256, 192), seed=6)
    labels = LabelStore.from_settings(settings)
    labels.append([approved(r) for r in records[:2]])
    trained_on = labels.version()
    labels.append([approved(r) for r in records[2:5]])

    package = shutil.copytree(tiny_package, tmp_path / "package")
    fields = json.loads((package / "manifest.json").read_text())
    fields.pop("files")
    # A label-store version this store never had: every approved label is new to that model.
    fields.update(name="scratch-detector", label_store_version=99 if other_store else trained_on)
    write_manifest(package, **fields)
    read_manifest(package)
    registry = ModelRegistry.from_settings(settings)
    with registry.start_candidate_run("scratch-detector", {"epochs": 1}) as run:
        version = registry.register(run, package, name="scratch-detector")
    registry.approve(version.ref, "good enough", actor="test")

    fleet = FleetDB.from_settings(settings)
    fleet.add_hello(DeviceHello(device_id="cam-1", groups=["line-1"], running={"model": "1"}))
    fleet.close()

    state = loop_state(settings)
    assert state.approved_labels == 5
    assert state.last_trained == version.ref
    assert state.labels_since_training == since
    assert state.production == version.ref
    assert [(d.device_id, d.groups, d.running) for d in state.devices] == [("cam-1", ["line-1"], {"model": "1"})]
    assert state.unavailable == {}
