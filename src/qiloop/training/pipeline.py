"""The training pipeline: label store in, model registry out.

snapshot as of a time or version → dataset (split by group) → train → export a
verified package (FP32 + INT8, parity-checked) → evaluate both on the test split
→ champion/challenger gate on the same images → register (or record why not).

Every candidate is one MLflow run holding the resolved config, the dataset
card, the learning curve, the evaluation report and pictures, and the gate's
decision. This module only wires library calls; each step is usable alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiloop.core.errors import ConfigurationError, QiloopError
from qiloop.core.models import ModelVersion
from qiloop.core.package import write_manifest
from qiloop.training import ultralytics_adapter as adapter
from qiloop.training.config import TrainConfig
from qiloop.training.copy_paste import paste_scratches
from qiloop.training.dataset import CARD_JSON, CARD_PNG, SNAPSHOT_JSON, BuiltDataset, build_dataset
from qiloop.training.error_analysis import write_report
from qiloop.training.evaluate import Evaluation, evaluate_package
from qiloop.training.export import ExportResult, evenly, export_package
from qiloop.training.gate import GateConfig, GateDecision, decide, measure_champion, record_decision
from qiloop.training.lineage import git_commit
from qiloop.training.operating import choose_operating_point
from qiloop.training.shapes import input_hw

Step = Callable[[str], None]


@dataclass(frozen=True)
class PipelineResult:
    """What one pass of the training pipeline produced."""

    run_id: str
    dataset: BuiltDataset
    train: Any  # ultralytics_adapter.TrainResult
    export: ExportResult
    evaluation: Evaluation
    int8_evaluation: Evaluation | None
    decision: GateDecision
    version: ModelVersion | None
    workdir: Path


def run_training(
    config: TrainConfig,
    gate: GateConfig | None = None,
    *,
    labels,
    images,
    registry,
    workdir: str | Path,
    on_step: Step | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> PipelineResult:
    """Run the whole pipeline once and return what it did.

    Args:
        config: what to train and how.
        gate: the promotion rule (default: ``config.gate``).
        labels: the label store.
        images: the image store.
        registry: the model registry.
        workdir: a folder for the dataset, the training run and the package.
        on_step: told the name of each step as it starts (for progress display).
        on_epoch: called with each epoch's history row.
    """
    step = on_step or (lambda _name: None)
    gate = config.gate if gate is None else gate
    work = Path(workdir)
    commit = git_commit()

    step("dataset")
    dataset = build_dataset(
        labels, images, work / "dataset", as_of=config.as_of, ratios=config.ratios, classes=config.classes
    )
    pasted = paste_scratches(dataset.root, config)
    test_split = "test" if dataset.snapshot.splits.get("test") else "val"
    test_records = labels.records(dataset.snapshot.splits[test_split], version=dataset.snapshot.label_store_version)

    def read(record) -> bytes:
        return images.read_bytes(record.image_sha256)

    lineage = {
        "dataset_snapshot": dataset.snapshot.fingerprint,
        "label_store_version": dataset.snapshot.label_store_version,
        "git_commit": commit or "unknown",
        "test_split": test_split,
    }
    applied = config.model_copy(update={"gate": gate})  # the run's parameters are what was applied
    with registry.start_candidate_run(config.name, params=applied.model_dump(mode="json"), tags=lineage) as run:
        run.log_config(applied.model_dump(mode="json"), "train_config.yaml")
        run.log_json({"gate": gate.model_dump(mode="json")}, "gate_config.json")
        for name in (CARD_JSON, CARD_PNG, SNAPSHOT_JSON):
            run.log_artifact(dataset.root / name, "dataset")
        splits = {split: len(ids) for split, ids in dataset.snapshot.splits.items()}
        source = f"label-store version {dataset.snapshot.label_store_version}"
        run.log_dataset(f"{config.name}-dataset", dataset.snapshot.fingerprint, source, {"splits": splits})
        if pasted:
            run.log_metrics({"pasted_images": float(pasted)})

        step("train")
        trained = adapter.train(config, dataset.data_yaml, work / "train", on_epoch=on_epoch)
        for row in trained.history:
            epoch = int(row.get("epoch", 0))
            run.log_metrics({k: v for k, v in row.items() if k != "epoch" and isinstance(v, int | float)}, step=epoch)

        step("export")
        hw = input_hw(*dataset.image_size, config.imgsz)
        test_images = dataset.images(test_split)
        manifest_fields = {
            "name": config.name,
            "training_config": config.model_dump(mode="json"),
            "dataset_snapshot": {
                "fingerprint": dataset.snapshot.fingerprint,
                "label_store_version": dataset.snapshot.label_store_version,
                "as_of": dataset.snapshot.as_of.isoformat() if dataset.snapshot.as_of else None,
                "splits": {k: len(v) for k, v in dataset.snapshot.splits.items()},
            },
            "label_store_version": dataset.snapshot.label_store_version,
            "git_commit": commit,
        }
        exported = export_package(
            trained.best,
            work / "package",
            input_hw=hw,
            classes=config.classes,
            calibration_images=evenly(dataset.images("train"), config.export.calibration_images),
            test_images=evenly(test_images, config.export.parity_images),
            manifest_fields=manifest_fields,
            int8=config.export.int8,
            opset=config.export.opset,
            parity_iou=config.export.parity_iou,
            parity_score=config.export.parity_score,
        )
        run.log_onnx_model(exported.folder / "model.onnx")
        parity = exported.parity
        parity_json = {"summary": parity.summary(), "worst_iou": parity.worst_iou, "boxes": parity.compared}
        run.log_json(parity_json | {"worst_score_diff": parity.worst_score_diff}, "parity.json")

        step("operating point")
        val_split = "val" if dataset.snapshot.splits.get("val") else test_split
        val_records = labels.records(dataset.snapshot.splits[val_split], version=dataset.snapshot.label_store_version)
        thresholds, operating_point = choose_operating_point(exported.folder, val_records, read, split=val_split)
        manifest_fields |= {"thresholds": thresholds, "operating_point": operating_point}
        write_manifest(
            exported.folder, **manifest_fields, classes=list(config.classes), input_width=hw[1], input_height=hw[0]
        )
        run.log_json(operating_point, "operating_point.json")
        run.log_metrics({f"val/operating_{k}": v for k, v in _operating_summary(operating_point).items()})

        step("evaluate")
        evaluation = evaluate_package(exported.folder, test_records, read)
        int8_eval = evaluate_package(exported.folder, test_records, read, int8=True) if exported.int8 else None
        write_report(evaluation, work / "evaluation", read, class_names=config.classes, name_of=_file_name(images))
        run.log_artifact(work / "evaluation", "evaluation")
        metrics = _numbers(evaluation.summary())
        int8_metrics = _numbers(int8_eval.summary()) if int8_eval else {}
        run.log_metrics({f"test/{k}": v for k, v in metrics.items()})
        run.log_metrics({f"test_int8/{k}": v for k, v in int8_metrics.items()})
        run.log_metrics({"model/fp32_bytes": exported.fp32_bytes, "model/int8_bytes": exported.int8_bytes or 0})
        # The package carries the figures it was accepted on.
        write_manifest(
            exported.folder,
            **manifest_fields,
            metrics=metrics,
            int8_metrics=int8_metrics,
            classes=list(config.classes),
            input_width=hw[1],
            input_height=hw[0],
        )

        step("gate")
        champion, champion_metrics = measure_champion(
            registry,
            lambda package: _numbers(evaluate_package(package, test_records, read).summary()),
            name=config.name,
            workdir=work / "champion",
        )
        decision = decide(metrics, champion_metrics, gate, champion.ref if champion else None)
        record_decision(run, decision)

        version = None
        if decision.passed:
            step("register")
            version = registry.register(
                run, exported.folder, name=config.name, approval=decision.approval, tags=lineage, metrics=metrics
            )
        run_id = run.run_id
    return PipelineResult(run_id, dataset, trained, exported, evaluation, int8_eval, decision, version, work)


def _file_name(images) -> Callable[[Any], str]:
    """A record's image as people know it: its original file name (its URI when the store has none)."""

    def name(record) -> str:
        try:
            return images.get(record.image_sha256).original_name or record.image_uri
        except QiloopError:  # gone from the store: the URI still names it
            return record.image_uri

    return name


def _operating_summary(record: dict[str, Any]) -> dict[str, float]:
    """Class means of the validation figures at the operating point."""
    classes = list(record.get("classes", {}).values())
    if not classes:
        return {}
    return {k: sum(float(c[k]) for c in classes) / len(classes) for k in ("confidence", "precision", "recall", "f1")}


def _numbers(summary: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in summary.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def check_enough_data(labels, minimum: int = 8) -> None:
    """Refuse to start when the label store holds too few approved images to split and train."""
    approved = len(labels.snapshot().record_ids)
    if approved < minimum:
        raise ConfigurationError(
            f"the label store holds {approved} approved images; training needs at least {minimum}",
            hint="import or label more images first (qiloop labels import, qiloop synth for a demo)",
        )
