"""qiloop's approval record: a production alias moved in MLflow is refused, naming the approved version."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from qiloop.core.models import ApprovalStatus
from qiloop.core.package import PackageFile
from qiloop.registry.approvals import ApprovalError, ApprovalLedger, files_digest

A, P, R = ApprovalStatus.APPROVED, ApprovalStatus.PENDING, ApprovalStatus.REJECTED
FILES = {"model.onnx": PackageFile(sha256="a" * 64, size=3)}


def register(registry, package, name, approval=P):
    with registry.start_candidate_run(name, {"epochs": 1}) as run:
        run.set_tags({"gate_passed": "true", "gate_reasons": "passed: mAP50 0.6 reaches the minimum 0.5"})
        return registry.register(run, package, name=name, approval=approval)


def test_ledger_keeps_every_decision_and_the_newest_approved_is_production(tmp_path):
    ledger = ApprovalLedger(tmp_path / "approvals.db")
    assert ledger.history("m") == [] and ledger.standing("m") is None
    ledger.append("m", 1, A, actor="ana", files=FILES, figures={"mAP50": 0.8})
    ledger.append("m", 2, A, actor="ben", files=FILES, reason="checked on the line")
    ledger.append("m", 2, R, actor="ana", files=FILES, reason="misses scratches")
    ledger.append("other", 5, A, actor="ana", files=FILES)
    assert [(r.version, r.state, r.actor) for r in ledger.history("m")] == [(1, A, "ana"), (2, A, "ben"), (2, R, "ana")]
    assert ledger.standing("m").version == 1 and ledger.standing("m").figures == {"mAP50": 0.8}
    assert ledger.latest("m")[2].reason == "misses scratches" and ledger.latest("m")[2].at <= datetime.now(timezone.utc)
    assert files_digest(FILES) != files_digest({"model.onnx": PackageFile(sha256="b" * 64, size=3)})


def test_an_alias_moved_in_mlflow_is_refused_naming_the_approved_version(registry, packages):
    name = "bypass"
    v1 = register(registry, packages[0], name, approval=A)  # approved by the gate, on record
    v2 = register(registry, packages[1], name)  # pending, never approved
    assert registry.approved(f"{name}@production").ref == v1.ref == registry.approved(v1.ref).ref
    record = registry.approvals(name)[0]
    assert (record.version, record.actor) == (1, "gate (approval: auto)") and record.figures["metrics"]["mAP50"] > 0
    assert record.figures["gate"]["gate_passed"] == "true"

    # What anyone can do in MLflow's UI: move the alias, mark the tag approved.
    registry.client.set_registered_model_alias(name, "production", "2")
    registry.client.set_model_version_tag(name, "2", "approval_status", "Approved")
    assert registry.production(name).version == 2  # MLflow now says 2 ...
    with pytest.raises(ApprovalError, match=rf"production alias of {name} points to {name}/2.*never approved") as err:
        registry.approved(f"{name}@production")
    assert f"{name}/1" in err.value.hint and err.value.exit_code == 2
    with pytest.raises(ApprovalError, match="never approved"):
        registry.approved(v2.ref)

    # Approving through qiloop puts it on record, with who and why, and moves the alias.
    registry.approve(v2.ref, reason="checked on the line", actor="ana")
    assert registry.approved(f"{name}@production").version == 2
    assert registry.approvals(name)[-1].actor == "ana"
    # An older approved version named by the alias is refused too: the record names 2.
    registry.client.set_registered_model_alias(name, "production", "1")
    with pytest.raises(ApprovalError, match=f"approved production version is {name}/2"):
        registry.approved(f"{name}@production")
    # ... but asked for by number it still stands approved.
    assert registry.approved(v1.ref).version == 1

    # Rejecting on record: production falls back to 1, 2 is refused by number.
    registry.reject(v2.ref, reason="misses scratches", actor="ben")
    assert registry.approved(f"{name}@production").version == 1
    with pytest.raises(ApprovalError, match=r"Rejected by ben"):
        registry.approved(v2.ref)


def test_files_changed_after_approval_are_refused(registry, packages):
    name = "swapped"
    v1 = register(registry, packages[0], name, approval=A)
    other = json.dumps({"model.onnx": {"sha256": "c" * 64, "size": 1}})
    registry.client.set_model_version_tag(name, str(v1.version), "package_files", other)
    with pytest.raises(ApprovalError, match="differ from those that were approved"):
        registry.approved(v1.ref)


def test_a_registry_without_any_record_refuses_and_says_how_to_approve(registry, packages):
    name = "unrecorded"
    v1 = register(registry, packages[0], name)
    registry.client.set_model_version_tag(name, "1", "approval_status", "Approved")
    registry.client.set_registered_model_alias(name, "production", "1")
    with pytest.raises(ApprovalError, match="no approval on record") as err:
        registry.approved(f"{name}@production")
    assert "qiloop models approve" in err.value.hint
    registry.approve(v1.ref, actor="ana")
    assert registry.approved(name).version == 1
