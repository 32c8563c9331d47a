"""The registry with MLflow tracking on PostgreSQL (the server on 127.0.0.1:5432, trust auth).

Each run creates a fresh database and drops it afterwards (``postgres_url`` in conftest); the
test skips when the server is not reachable (fails under CI).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qiloop.core.models import ApprovalStatus
from qiloop.core.package import read_manifest, write_manifest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def make_package(folder: Path, payload: bytes, map50: float) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(payload)
    write_manifest(
        folder, name="scratch-detector", classes=["scratch"], input_width=64, input_height=32, metrics={"mAP50": map50}
    )
    return folder


def test_register_approve_download_on_postgres(postgres_url, tmp_path):
    from qiloop.registry import ModelRegistry

    registry = ModelRegistry(postgres_url, tmp_path / "artifacts", approvals=tmp_path / "approvals.db")
    versions = []
    for i, approval in enumerate(["Approved", "PendingManualApproval"]):
        with registry.start_candidate_run("scratch-detector", {"epochs": i + 1}, tags={"git_commit": "abc"}) as run:
            run.log_metric("train/box_loss", 2.0 - i, step=1)
            versions.append(
                registry.register(
                    run,
                    make_package(tmp_path / f"p{i}", bytes([i]) * 64, 0.7 + 0.1 * i),
                    approval=approval,
                    tags={"dataset_snapshot": "0123456789abcdef", "label_store_version": 5},
                )
            )
    assert [v.ref for v in versions] == ["scratch-detector/1", "scratch-detector/2"]
    assert registry.production("scratch-detector").version == 1

    approved = registry.approve("scratch-detector/2", reason="reviewed")
    assert approved.is_production and approved.approval == ApprovalStatus.APPROVED
    assert (approved.dataset_snapshot, approved.label_store_version, approved.git_commit) == (
        "0123456789abcdef",
        5,
        "abc",
    )

    folder = registry.download("scratch-detector", tmp_path / "downloaded")
    assert read_manifest(folder).metrics == {"mAP50": pytest.approx(0.8)}
    assert (folder / "model.onnx").read_bytes() == bytes([1]) * 64

    registry.reject("scratch-detector@production", reason="regression on the line")
    again = ModelRegistry(postgres_url, tmp_path / "artifacts")  # a second client sees the same state
    assert again.get("scratch-detector").version == 1
    assert [v.approval for v in again.versions("scratch-detector")] == [
        ApprovalStatus.APPROVED,
        ApprovalStatus.REJECTED,
    ]
    assert (tmp_path / "artifacts" / "scratch-detector").is_dir()
