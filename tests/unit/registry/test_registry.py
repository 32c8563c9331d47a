"""The registry on a real MLflow store (SQLite and local artefacts in a temporary home)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qiloop.core.errors import ConfigurationError, InvalidRecordError, NotFoundError, QiloopError, StoreError
from qiloop.core.models import ApprovalStatus
from qiloop.core.package import read_manifest
from qiloop.registry import ModelRegistry

A, P, R = ApprovalStatus.APPROVED, ApprovalStatus.PENDING, ApprovalStatus.REJECTED


def register(registry, package, name, approval=P, **kw):
    with registry.start_candidate_run(name, {"epochs": 1}) as run:
        return registry.register(run, package, name=name, approval=approval, **kw)


def production(registry, name):
    current = registry.production(name)
    return current.version if current else None


def test_store_lives_under_home(registry):
    assert registry.tracking_uri.endswith("/mlflow/mlflow.db")
    assert registry.artifact_root.endswith("/mlflow/artifacts")
    registry.names()
    assert Path(registry.artifact_root.removeprefix("file://")).parent.joinpath("mlflow.db").is_file()


def test_register_records_lineage_metrics_files_and_artefacts(registry, packages):
    with registry.start_candidate_run("lineage", {"epochs": 1}) as ended:
        pass
    # a run may be registered after it ended, and by id
    v = registry.register(ended.run_id, packages[0], name="lineage", tags={"git_commit": "cafe123", "owner": "qa"})
    assert (v.ref, v.approval, v.aliases) == ("lineage/1", P, ())
    assert v.metrics == {"mAP50": pytest.approx(0.6), "mAP50-95": pytest.approx(0.3)}
    assert (v.dataset_snapshot, v.label_store_version, v.git_commit) == ("f" * 16, 3, "cafe123")
    assert v.files == read_manifest(packages[0]).files and v.tags == {"owner": "qa"}
    assert v.source.endswith(f"{v.run_id}/artifacts/package")
    run = registry.run(v.run_id)
    names = sorted(a.path for a in run.client.list_artifacts(v.run_id, "package"))
    assert names == ["package/manifest.json", "package/model.int8.onnx", "package/model.onnx"]
    assert run.tags()["registered_version"] == "1" and run.status() == "FINISHED"
    assert registry.production("lineage") is None
    assert [x.ref for x in registry.versions("lineage")] == ["lineage/1"]


def test_approval_moves_production_and_rejection_moves_it_back(registry, packages):
    name = "lifecycle"
    assert register(registry, packages[0], name, approval=A).is_production
    v2 = register(registry, packages[1], name)
    assert (v2.approval, production(registry, name)) == (P, 1)
    approved = registry.approve(f"{name}/2", reason="checked on the line")
    assert approved.is_production and approved.reason == "checked on the line"
    assert production(registry, name) == 2 and registry.get(f"{name}/1").aliases == ()
    register(registry, packages[2], name, approval=A)
    assert production(registry, name) == 3
    rejected = registry.reject(name, reason="misses deep scratches")
    assert (rejected.version, rejected.approval, rejected.reason, rejected.is_production) == (
        3,
        R,
        "misses deep scratches",
        False,
    )
    assert production(registry, name) == 2
    registry.reject(f"{name}/2", reason="drifted")
    assert production(registry, name) == 1
    registry.reject(f"{name}/1", reason="obsolete")
    assert production(registry, name) is None
    re_approved = registry.approve(f"{name}/2")
    assert re_approved.is_production and re_approved.reason is None
    states = [(v.version, v.approval) for v in registry.versions(name)]
    assert states == [(1, R), (2, A), (3, R)]


def test_refs_resolve_and_unknown_refs_say_what_exists(registry, packages):
    name = "refs"
    register(registry, packages[0], name, approval=A)
    register(registry, packages[1], name)
    assert registry.get(f"{name}@production").version == 1
    assert registry.get(name).version == 1
    assert registry.get(f"{name}/2").version == 2
    assert registry.get(f"{name}@latest").version == 2
    assert registry.get(f"models:/{name}/1").version == 1
    assert registry.get("2", default_name=name).version == 2
    with pytest.raises(NotFoundError, match="no version 9") as err:
        registry.get(f"{name}/9")
    assert "1 (Approved @production), 2 (PendingManualApproval)" in err.value.hint
    with pytest.raises(NotFoundError, match="alias 'champion'"):
        registry.get(f"{name}@champion")
    with pytest.raises(NotFoundError, match="no registered model named 'nope'") as err:
        registry.get("nope/1")
    assert name in err.value.hint and err.value.exit_code == 5
    with pytest.raises(ConfigurationError):
        registry.get(f"{name}/x")


def test_download_returns_a_verified_package_and_refuses_tampering(registry, packages, tmp_path):
    name = "download"
    v = register(registry, packages[1], name, approval=A)
    folder = registry.download(name, tmp_path / "pkg")
    assert folder == tmp_path / "pkg"
    assert read_manifest(folder).files == read_manifest(packages[1]).files
    assert (folder / "model.onnx").read_bytes() == (packages[1] / "model.onnx").read_bytes()
    with pytest.raises(ConfigurationError, match="not empty"):
        registry.download(name, tmp_path / "pkg")
    (tmp_path / "empty").mkdir()
    assert registry.download(f"{name}/1", tmp_path / "empty") == tmp_path / "empty"

    stored = Path(v.source.removeprefix("file://"))
    (stored / "model.onnx").write_bytes(b"altered")
    with pytest.raises(InvalidRecordError, match="does not match"):
        registry.download(name, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".qiloop-download")]


def test_download_refuses_a_package_altered_together_with_its_manifest(registry, packages, package_factory, tmp_path):
    name = "resigned"
    v = register(registry, packages[0], name, approval=A)
    stored = Path(v.source.removeprefix("file://"))
    other = package_factory(tmp_path / "other", seed=9.0)
    for file in other.iterdir():
        shutil.copy(file, stored / file.name)
    with pytest.raises(StoreError, match="differs from the one registered"):
        registry.download(name, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_candidate_run_logs_params_metric_series_config_and_status(registry, tmp_path):
    (tmp_path / "card.md").write_text("# dataset card\n")
    with registry.start_candidate_run(
        "runs", {"model": {"yaml": "yolov8n.yaml"}, "epochs": 3}, tags={"git_commit": "abc"}
    ) as run:
        for epoch, loss in enumerate([3.0, 2.0, 1.5], start=1):
            run.log_metric("train/box_loss", loss, step=epoch)
        run.log_metrics({"metrics/mAP50(B)": 0.4, "mAP50-95": 0.2})
        run.log_artifact(tmp_path / "card.md", "dataset")
        run.log_config({"epochs": 3, "imgsz": [320, 448]})
    client = run.client
    data = client.get_run(run.run_id).data
    assert data.params == {"model.yaml": "yolov8n.yaml", "epochs": "3"}
    assert data.tags["git_commit"] == "abc" and data.tags["mlflow.source.git.commit"] == "abc"
    history = client.get_metric_history(run.run_id, "train/box_loss")
    assert [(m.step, m.value) for m in history] == [(1, 3.0), (2, 2.0), (3, 1.5)]
    assert run.metrics()["metrics/mAP50_B"] == 0.4
    import yaml

    config = yaml.safe_load(Path(client.download_artifacts(run.run_id, "config.yaml", str(tmp_path))).read_text())
    assert config == {"epochs": 3, "imgsz": [320, 448]}
    assert client.list_artifacts(run.run_id, "dataset")[0].path == "dataset/card.md"
    assert run.status() == "FINISHED"

    with pytest.raises(RuntimeError, match="diverged"), registry.start_candidate_run("runs") as failing:
        raise RuntimeError("diverged")
    assert failing.status() == "FAILED"
    with pytest.raises(NotFoundError, match="no such file"):
        failing.log_artifact(tmp_path / "missing.txt")


def test_register_refuses_bad_input(registry, packages, tmp_path):
    with registry.start_candidate_run("refusals") as run:
        with pytest.raises(NotFoundError, match="not a model package"):
            registry.register(run, tmp_path, name="refusals")
        with pytest.raises(ConfigurationError, match="cannot be registered as Rejected"):
            registry.register(run, packages[0], name="refusals", approval="Rejected")
        with pytest.raises(ConfigurationError, match="invalid model name"):
            registry.register(run, packages[0], name="bad'name")
        run.set_tags({"gate_passed": "false", "gate_reasons": "mAP50 0.1 is below the minimum 0.5"})
        with pytest.raises(QiloopError, match=r"failed the gate.*below the minimum"):
            registry.register(run, packages[0], name="refusals")
    assert "refusals" not in registry.names()
    with pytest.raises(ConfigurationError, match="needs a reason"):
        registry.reject("lineage/1", reason=" ")


def test_unreachable_store_is_a_store_error(tmp_path):
    registry = ModelRegistry("postgresql://postgres:pw@127.0.0.1:1/none", tmp_path)
    with pytest.raises(StoreError, match="cannot open the MLflow tracking store") as err:
        registry.versions()
    assert "pw@" not in str(err.value)


def test_importing_the_registry_and_its_cli_loads_no_mlflow():
    code = "import sys, qiloop.registry, qiloop.cli.models, qiloop.training.gate; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_candidate_run_logs_the_onnx_model_with_its_signature_and_the_dataset_input(registry, tiny_package, tmp_path):
    pytest.importorskip("onnx", reason="needs qiloop[train]")
    from mlflow.models import Model

    with registry.start_candidate_run("onnx-runs") as run:
        run.log_onnx_model(tiny_package / "model.onnx")
        run.log_dataset("tags-dataset", "f" * 64, "label-store version 7", {"splits": {"train": 8, "test": 2}})
    local = Path(run.client.download_artifacts(run.run_id, "onnx_model", str(tmp_path)))
    model = Model.load(str(local / "MLmodel"))
    assert "onnx" in model.flavors
    inputs = model.signature.inputs.to_dict()
    assert len(inputs) == 1 and inputs[0]["tensor-spec"]["dtype"] == "float32"
    assert tuple(inputs[0]["tensor-spec"]["shape"][1:]) == (3, 64, 96)  # channels and the tiny model's input size
    (dataset,) = run.client.get_run(run.run_id).inputs.dataset_inputs
    assert dataset.dataset.name == "tags-dataset" and dataset.dataset.digest == "f" * 36
    assert '"test": 2' in dataset.dataset.profile
    assert [(t.key, t.value) for t in dataset.tags] == [("mlflow.data.context", "training")]
