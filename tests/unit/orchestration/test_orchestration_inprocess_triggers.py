"""What ``LocalLoop.evaluate`` says of a trigger: the runs it started with their sensor and run key, or why none."""

from __future__ import annotations

import pytest

pytest.importorskip("dagster", reason="needs qiloop[orchestrate]")

from orchestration_helpers import drop


def test_a_tick_names_the_trigger_and_run_key_of_its_run_and_says_why_it_started_nothing(settings, instance):
    from qiloop.orchestration.inprocess import LocalLoop

    loop = LocalLoop(settings, instance, log_level="ERROR")
    idle = loop.evaluate("camera_folder")
    assert idle.runs == () and "no new file" in idle.skip_reason and idle.seconds >= 0

    drop(settings.camera_folder, range(3))
    tick = loop.evaluate("camera_folder", {"ops": {"new_images": {"config": {"source": "camera:line-9"}}}})
    [run] = tick.runs
    assert run.success and run.job == "ingest" and run.sensor == "camera_folder"
    assert run.run_key.startswith("camera:") and run.seconds > 0
    assert run.materialized["new_images"]["added"] == 3
    stored = loop.instance.get_run_by_id(run.run_id)
    assert stored.tags["dagster/run_key"] == run.run_key
    given = stored.run_config["ops"]["new_images"]["config"]  # the trigger's config, with the caller's laid over it
    assert given["source"] == "camera:line-9" and len(given["paths"]) == 3
    assert stored.run_config["loggers"]["console"]["config"]["log_level"] == "ERROR"


def test_run_config_is_laid_over_the_trigger_s_key_by_key():
    from qiloop.orchestration.inprocess import merged

    trigger = {"ops": {"train": {"config": {"overrides": ["device=0"]}}}}
    extra = {"ops": {"train": {"config": {"profile": "quick"}}, "model_version": {"config": {"approval": "auto"}}}}
    assert merged(trigger, extra) == {
        "ops": {
            "train": {"config": {"overrides": ["device=0"], "profile": "quick"}},
            "model_version": {"config": {"approval": "auto"}},
        }
    }
    assert merged(trigger, {"ops": {"train": {"config": {"overrides": ["epochs=1"]}}}})["ops"]["train"] == {
        "config": {"overrides": ["epochs=1"]}
    }  # lists are replaced, not joined
    assert trigger == {"ops": {"train": {"config": {"overrides": ["device=0"]}}}}  # the input is left as it was


def test_the_steps_log_lines_reach_the_host_and_dagster_s_own_events_do_not(settings, instance):
    pytest.importorskip("sqlalchemy", reason="needs qiloop[label]")
    from qiloop.orchestration.inprocess import LocalLoop
    from qiloop.storage import ImageStore

    lines: list[tuple[str, str]] = []
    loop = LocalLoop(settings, instance, log_level="INFO", on_log=lambda step, text: lines.append((step, text)))
    ImageStore.from_settings(settings).ingest(drop(settings.home / "import", range(4)), source="import")
    [run] = loop.tick("labels_wanted")
    assert run.success and run.sensor == "labels_wanted" and run.run_key.startswith("labels:")
    opened = [text for step, text in lines if step == "labeling_job"]
    assert any(text.startswith("opened job unlabeled-") and "4 unlabeled images" in text for text in opened), lines
    assert not any("STEP_START" in text or "Started execution" in text for _, text in lines), lines
