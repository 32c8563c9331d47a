"""Export trained weights to a model package: ONNX FP32, INT8, parity check, manifest.

The package (:mod:`qiloop.core.package`) is what the registry stores and the
devices run. It is only written when the exported FP32 model reproduces the
trained model's detections (:mod:`qiloop.training.parity`); otherwise
:class:`~qiloop.core.errors.ParityError` fails the run and the folder is left
without a manifest, so nothing can load it as a package.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qiloop.core.errors import ParityError
from qiloop.core.package import Thresholds, write_manifest
from qiloop.training import parity
from qiloop.training import ultralytics_adapter as adapter
from qiloop.training.graph_rewrite import rewrite_file
from qiloop.training.lineage import git_commit
from qiloop.training.quantize import quantize_int8

FP32_FILE = "model.onnx"
RAW_BOX_TOLERANCE = 1.0  # input pixels: box values of the raw head output may differ by this much
INT8_FILE = "model.int8.onnx"


@dataclass(frozen=True)
class ExportResult:
    """The package written, its parity report, file sizes and step timings (seconds)."""

    folder: Path
    manifest: Any  # qiloop.core.package.ModelManifest
    parity: parity.ParityReport
    fp32_bytes: int
    int8_bytes: int | None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def fp32(self) -> Path:
        return self.folder / FP32_FILE

    @property
    def int8(self) -> Path | None:
        return self.folder / INT8_FILE if self.int8_bytes is not None else None


def export_package(
    weights: str | Path,
    out_dir: str | Path,
    *,
    input_hw: tuple[int, int],
    classes: Sequence[str],
    calibration_images: Sequence[Any],
    test_images: Sequence[Any],
    manifest_fields: Mapping[str, Any] | None = None,
    int8: bool = True,
    opset: int | None = None,
    parity_iou: float = 0.98,
    parity_score: float = 0.02,
) -> ExportResult:
    """Export ``weights`` (.pt) to a verified model package in ``out_dir``.

    Args:
        weights: the trained weights.
        out_dir: the package folder (created).
        input_hw: the fixed input ``(height, width)``, as used in validation.
        classes: class names, index = class id.
        calibration_images: training images (paths or RGB arrays) that calibrate INT8.
        test_images: images the parity check runs on (the test split).
        manifest_fields: extra :class:`~qiloop.core.package.ModelManifest` fields: ``name``,
            ``training_config``, ``dataset_snapshot``, ``label_store_version``, ``metrics``...
            ``git_commit`` defaults to :func:`~qiloop.training.lineage.git_commit`.
        int8: also write the INT8 model.
        opset: ONNX opset (``None``: the exporter's choice).
        parity_iou: least IoU of matched boxes.
        parity_score: largest score difference of matched boxes.

    Raises:
        ParityError: ONNX Runtime's detections differ from the torch model's.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("manifest.json", INT8_FILE):  # an earlier export's files must not mix with this one's
        (folder / stale).unlink(missing_ok=True)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    fp32 = adapter.export_onnx(weights, folder / FP32_FILE, input_hw=input_hw, opset=opset)
    rewrite_file(fp32)  # the head's softmax over its last axis: same outputs, faster (checked by the parity below)
    seconds["export"] = time.perf_counter() - started

    started = time.perf_counter()
    report = verify_parity(weights, fp32, test_images, input_hw=input_hw, iou_min=parity_iou, score_tol=parity_score)
    seconds["parity"] = time.perf_counter() - started

    int8_bytes = None
    if int8:
        started = time.perf_counter()
        quantize_int8(fp32, folder / INT8_FILE, calibration_images, input_hw=input_hw)
        seconds["quantize"] = time.perf_counter() - started
        int8_bytes = (folder / INT8_FILE).stat().st_size

    fields = {"name": "model", "git_commit": git_commit(), **dict(manifest_fields or {})}
    manifest = write_manifest(
        folder, classes=list(classes), input_width=input_hw[1], input_height=input_hw[0], **fields
    )
    return ExportResult(folder, manifest, report, fp32.stat().st_size, int8_bytes, seconds)


def verify_parity(
    weights: str | Path,
    onnx_path: str | Path,
    images: Sequence[Any],
    *,
    input_hw: tuple[int, int],
    iou_min: float = 0.98,
    score_tol: float = 0.02,
) -> parity.ParityReport:
    """:func:`check_parity`, raising :class:`ParityError` when the models disagree."""
    report = check_parity(weights, onnx_path, images, input_hw=input_hw, iou_min=iou_min, score_tol=score_tol)
    if not report.ok:
        shown = "\n  ".join(report.failures[: parity.MAX_FAILURES_SHOWN])
        raise ParityError(
            f"{onnx_path} does not reproduce {weights}: {report.summary()}\n  {shown}",
            hint="the ONNX export changed the model (opset, simplification); no package was written",
        )
    return report


def check_parity(
    weights: str | Path,
    onnx_path: str | Path,
    images: Sequence[Any],
    *,
    input_hw: tuple[int, int],
    iou_min: float = 0.98,
    score_tol: float = 0.02,
    levels: Sequence[float] = parity.LEVELS,
) -> parity.ParityReport:
    """Compare the torch model with ONNX Runtime running ``onnx_path`` on ``images``.

    Both run through ultralytics' predictor (same letterbox, same NMS), so any
    difference is the export's.
    """
    floor = max(min(levels) - score_tol, 1e-3)
    iou = Thresholds().iou
    reference = adapter.predict(weights, images, imgsz=input_hw, conf=floor, iou=iou)
    candidate = adapter.predict(onnx_path, images, imgsz=input_hw, conf=floor, iou=iou)
    report = parity.compare_levels(reference, candidate, levels=levels, iou_min=iou_min, score_tol=score_tol)
    score_diff, box_diff = parity.raw_differences(*_raw_outputs(weights, onnx_path, images, input_hw))
    return parity.with_raw(report, score_diff, box_diff, score_tol, RAW_BOX_TOLERANCE)


def _raw_outputs(weights, onnx_path, images, input_hw) -> tuple[list, list]:
    """Both models' raw head outputs on the same letterboxed input tensors."""
    import onnxruntime as ort

    from qiloop.edge.runtime.preprocess import letterbox

    tensors = [letterbox(image, input_hw)[0] for image in images]
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return adapter.raw_outputs(weights, tensors), [session.run(None, {name: t})[0] for t in tensors]


def evenly(items: Sequence[Any], n: int) -> list[Any]:
    """``n`` items spread evenly over ``items`` (all of them when there are fewer): a stable sample.

    Example:
        >>> evenly(list(range(10)), 3)
        [0, 3, 6]
    """
    if n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]
