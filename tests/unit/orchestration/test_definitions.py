"""The definitions load (as Dagster's own check loads them), hold the loop, and read nothing at import."""

from __future__ import annotations

import pytest

pytest.importorskip("dagster", reason="needs qiloop[orchestrate]")

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from qiloop.orchestration.definitions import build_definitions, defs

REPO = Path(__file__).resolve().parents[3]
DAGSTER = Path(sys.executable).with_name("dagster")
LOOP = {"new_images", "labeling_job", "label_snapshot", "training_dataset", "trained_candidate", "model_version",
        "rollout"}  # fmt: skip


def test_the_definitions_hold_the_loop_and_everything_runs_by_default():
    assert isinstance(defs, dg.Definitions)
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == LOOP
    [check] = list(graph.asset_check_keys)
    assert (check.asset_key.to_user_string(), check.name) == ("trained_candidate", "gate")
    assert graph.get_check_spec(check).blocking
    sensors = {s.name: s for s in defs.sensors}
    assert set(sensors) >= {"camera_folder", "labels_wanted", "labels_approved", "model_approved", "qiloop_automation"}
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in sensors.values())
    schedules = {s.name: s for s in defs.schedules}
    assert set(schedules) == {"nightly_retrain", "delta_upkeep_nightly"}
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in schedules.values())
    assert {j.name for j in defs.jobs} >= {"ingest", "open_labeling_job", "training", "deployment", "delta_upkeep"}


def test_network_steps_retry_with_jittered_back_off_and_training_holds_its_pool():
    graph = defs.resolve_asset_graph()
    for name in ("new_images", "label_snapshot", "model_version", "rollout"):
        policy = graph.get(dg.AssetKey(name)).assets_def.op.retry_policy
        assert policy.max_retries >= 2 and policy.backoff == dg.Backoff.EXPONENTIAL and policy.jitter is not None
    train = graph.get(dg.AssetKey("trained_candidate")).assets_def
    assert train.op.pool == "training"
    automation = graph.get(dg.AssetKey("model_version")).automation_condition
    assert "all_deps_blocking_checks_passed" in str(automation) or "blocking" in str(automation).lower()


def test_the_candidates_code_version_follows_the_training_config():
    from qiloop.orchestration.code_version import training_code_version
    from qiloop.training.config import TrainConfig

    def version(d: dg.Definitions) -> str:
        return d.resolve_asset_graph().get(dg.AssetKey("trained_candidate")).code_version

    assert version(defs) == training_code_version(TrainConfig.resolve(profile="default"))
    assert version(build_definitions(training_overrides=["epochs=3"])) != version(defs)
    assert version(build_definitions(training_profile="quick")) != version(defs)
    # as_of is the data's version, not the code's
    assert training_code_version(TrainConfig(as_of=3)) == training_code_version(TrainConfig())


def test_the_code_version_follows_the_training_code(tmp_path):
    from qiloop.orchestration.code_version import digest, training_sources

    sources = training_sources()
    names = {p.name for p in sources}
    assert {"pipeline.py", "gate.py", "ultralytics_adapter.py", "train.py"} <= names
    root = Path(sources[0]).parents[1]
    copies = []
    for path in sources:
        copy = tmp_path / path.relative_to(root)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(path.read_bytes())
        copies.append(copy)
    assert digest(copies, "{}", root=tmp_path) == digest(sources, "{}", root=root)
    gate = next(c for c in copies if c.name == "gate.py")
    gate.write_text(gate.read_text() + "\n# a change to the gate\n")
    assert digest(copies, "{}", root=tmp_path) != digest(sources, "{}", root=root)


def _env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QILOOP_", "DAGSTER_"))}
    # A home that must not be created, and a setting that cannot be read: importing must not read them.
    env |= {"QILOOP_HOME": str(tmp_path / "never"), "QILOOP_LABEL_JOB_MIN_IMAGES": "not a number"}
    env |= {"DAGSTER_HOME": str(tmp_path / "dagster")}
    (tmp_path / "dagster").mkdir()
    return env


def test_importing_the_definitions_reads_no_settings(tmp_path):
    code = "import qiloop.orchestration.definitions as d; print(type(d.defs).__name__)"
    out = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Definitions"
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
def test_dagster_validates_the_definitions(tmp_path):
    if not DAGSTER.is_file():
        pytest.skip(f"no dagster command beside {sys.executable}")
    command = [str(DAGSTER), "definitions", "validate", "-m", "qiloop.orchestration.definitions"]
    out = subprocess.run(command, env=_env(tmp_path), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
def test_dagster_runs_an_asset_with_the_settings_of_its_environment(tmp_path):
    """The deployed path: Dagster's CLI loads the module and the run reads QILOOP_HOME when it starts."""
    from orchestration_helpers import drop

    from qiloop.storage import ImageStore

    if not DAGSTER.is_file():
        pytest.skip(f"no dagster command beside {sys.executable}")
    env = _env(tmp_path) | {"QILOOP_HOME": str(tmp_path / "home")}
    env.pop("QILOOP_LABEL_JOB_MIN_IMAGES")
    drop(tmp_path / "home" / "camera", range(2))
    command = [str(DAGSTER), "asset", "materialize", "--select", "new_images", "-m", "qiloop.orchestration.definitions"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0 and "RUN_SUCCESS" in out.stdout + out.stderr, out.stdout[-2000:] + out.stderr[-2000:]
    assert len(ImageStore.from_url(str(tmp_path / "home" / "images"))) == 2
