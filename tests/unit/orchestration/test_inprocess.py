"""The data half of the loop through Dagster in this process: triggers start runs that do the real work.

Camera files → the ``camera_folder`` trigger → an ingest run, which opens a labelling
job in the labelling database once enough images wait; approvals → a
label snapshot; and the Delta upkeep job. Runs go through ``LocalLoop``, which
keeps cursors in the instance and starts one run per run key, as the daemon does.
"""

from __future__ import annotations

import pytest

pytest.importorskip("dagster", reason="needs qiloop[orchestrate]")

from orchestration_helpers import approved, drop

pytest.importorskip("sqlalchemy", reason="needs qiloop[label]")


@pytest.fixture
def loop(settings, instance):
    from qiloop.orchestration.inprocess import LocalLoop

    return LocalLoop(settings, instance)


def test_camera_files_are_ingested_once_and_a_replayed_tick_starts_no_second_run(loop, settings):
    from qiloop.storage import ImageStore

    drop(settings.camera_folder, range(5))
    [turn] = loop.tick("camera_folder")
    assert turn.success and turn.materialized["new_images"]["added"] == 5
    assert turn.materialized["new_images"]["images_in_store"] == 5
    assert len(ImageStore.from_settings(settings)) == 5
    assert loop.tick("camera_folder") == []  # nothing new

    key = "qiloop/sensor_cursor/camera_folder"
    loop.instance.run_storage.set_cursor_values({key: ""})  # the tick is replayed from the start
    assert loop.tick("camera_folder") == []  # same files, same run key: no second run
    runs = loop.instance.get_runs(__import__("dagster").RunsFilter(tags={"dagster/sensor_name": "camera_folder"}))
    assert len(runs) == 1


def test_waiting_images_open_one_labelling_job_and_approvals_reach_the_snapshot(loop, settings):
    from qiloop.labeling import jobs
    from qiloop.labeling.db import Database
    from qiloop.labelstore import LabelStore
    from qiloop.orchestration.inprocess import run_turn
    from qiloop.storage import ImageStore

    drop(settings.camera_folder, range(2))
    [turn] = loop.tick("camera_folder")
    assert turn.success and "labeling_job" not in turn.materialized  # 2 wait, a job opens at 3
    assert loop.tick("labels_wanted") == []
    drop(settings.camera_folder, range(2, 4))
    [turn] = loop.tick("camera_folder")  # the ingest run opens the job itself
    assert turn.success, turn.failure
    job = turn.materialized["labeling_job"]
    assert job["jobs"] == 1 and job["images"] == 4 and job["prelabelled"] == 0  # no production model yet
    db = Database.from_settings(settings)
    try:
        with db.session() as session:
            [summary] = jobs.list_jobs(session)
        assert summary.images == 4 and summary.labeling == 4
    finally:
        db.dispose()
    assert loop.tick("labels_wanted") == []  # those images were handed to a job

    images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    labels.append([approved(r) for r in images.list()[:3]])
    snap = run_turn(settings, selection=["label_snapshot"])
    assert snap.success and snap.skipped == ()
    figures = snap.materialized["label_snapshot"]
    assert figures["approved_images"] == 3 and figures["label_store_version"] == labels.version()
    assert figures["boxes"] == 3


def test_the_delta_upkeep_merges_small_files_and_keeps_every_label_version(loop, settings, tmp_path):
    from qiloop.labelstore import LabelStore
    from qiloop.storage import ImageStore

    images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    versions = []
    for batch in range(3):
        added = images.ingest(drop(tmp_path / f"b{batch}", range(batch * 2, batch * 2 + 2))).added
        versions.append(labels.append([approved(r) for r in added]).version)
    first_version = versions[0]
    before = {r.image_sha256 for r in labels.latest(as_of=first_version)}

    turn = loop.run_job("delta_upkeep", {"ops": {"compact_tables": {"config": {"retention_hours": 0}}}})
    assert turn.success, turn.failure
    result = loop.instance.get_run_by_id(turn.run_id)
    assert result is not None
    events = loop.instance.all_logs(turn.run_id)
    [output] = [e for e in events if e.dagster_event and e.dagster_event.is_successful_output]
    figures = {k: getattr(v, "value", v) for k, v in output.dagster_event.event_specific_data.metadata.items()}
    assert figures["index/files_before"] == 3 and figures["index/files_after"] == 1
    assert figures["index/files_vacuumed"] == 3  # the replaced files, past a zero retention
    assert figures["labels/files_before"] == 3 and figures["labels/files_after"] == 1
    assert figures["labels/files_vacuumed"] == 0  # the label store is never vacuumed
    assert {r.image_sha256 for r in labels.latest(as_of=first_version)} == before  # time travel still reads v1
    assert len(ImageStore.from_settings(settings)) == 6


def test_the_local_loop_keeps_its_cursors_and_runs_in_the_home(settings):
    from qiloop.orchestration.inprocess import LocalLoop

    drop(settings.camera_folder, range(2))
    first = LocalLoop(settings)
    [turn] = first.tick("camera_folder")
    assert turn.success and (settings.home / "dagster").is_dir()
    first.instance.dispose()
    again = LocalLoop(settings)  # a new process on the same home: the cursor and the run are still there
    try:
        assert again.tick("camera_folder") == []
        assert again.instance.get_run_by_id(turn.run_id) is not None
    finally:
        again.instance.dispose()


def test_an_in_process_run_leaves_the_host_s_signal_handlers_as_they_were():
    import signal

    import dagster as dg

    from qiloop.orchestration.inprocess import signals_kept

    @dg.asset
    def one() -> int:
        return 1

    before = signal.getsignal(signal.SIGTERM)
    with signals_kept():
        assert dg.materialize([one]).success
    assert signal.getsignal(signal.SIGTERM) is before
