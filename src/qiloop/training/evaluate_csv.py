"""Evaluate a model on a labelled set on disk, in the reference ``labels.csv`` format.

No store is involved: the labels are parsed from the file, the images read
from ``images_root``, and the model is a package folder or a registry
reference, downloaded for the evaluation.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from qiloop.core.errors import NotFoundError
from qiloop.core.package import MANIFEST, is_package
from qiloop.core.records import LabelStatus
from qiloop.labelstore.formats import labels_csv
from qiloop.training.evaluate import Evaluation, Failure, evaluate_package


def read_local(draft: Any) -> bytes:
    """The bytes of a draft's image, its ``image_ref`` being a local path (a regular file, size-checked)."""
    from qiloop.settings import Settings
    from qiloop.storage.files import read_regular
    from qiloop.storage.probe import max_image_bytes

    limit = max_image_bytes(Settings.model_fields["max_image_pixels"].default)
    return read_regular(draft.image_ref, max_bytes=limit)


def resolve_model(model: str | Path, workdir: Path, registry: Any | None = None) -> Path:
    """A package folder for ``model``: a folder as is, a registry reference downloaded.

    Args:
        model: A package folder, or a reference such as ``scratch-detector@production``
            or ``scratch-detector/3``.
        workdir: An empty folder to download into.
        registry: A :class:`qiloop.registry.ModelRegistry` for references.

    Raises:
        NotFoundError: Neither a package folder nor (without a registry) resolvable.
    """
    path = Path(model)
    if is_package(path):
        return path
    if path.is_file() and path.name == MANIFEST:
        return path.parent
    if path.exists():
        raise NotFoundError(f"{path} is not a model package (no {MANIFEST})", hint="give the package folder")
    if registry is None:
        raise NotFoundError(
            f"{model} is neither a model package folder nor a registry reference that can be resolved here",
            hint="give a package folder, or a reference such as scratch-detector@production with a registry",
        )
    return registry.download(str(model), workdir / "package")


def evaluate_labels_csv(
    model: str | Path,
    labels: str | Path,
    images_root: str | Path,
    *,
    registry: Any | None = None,
    int8: bool = False,
    confidence: float | None = None,
    threads: int | None = None,
    progress: bool = False,
) -> Evaluation:
    """Evaluate ``model`` on the approved labels of ``labels`` with images under ``images_root``.

    ``source_ref`` values such as ``s3://${bucket}/pipeline/assets/images/a.jpg`` are
    mapped onto ``images_root`` (relative ones are joined to it). Rows that do not
    parse and images that cannot be read are reported as failures; rows whose
    status is not APPROVED are left out and counted (``skipped``).

    Raises:
        NotFoundError: The labels file or the model cannot be found.
    """
    labels, root = Path(labels), Path(images_root)
    if not labels.is_file():
        raise NotFoundError(f"no labels file at {labels}", hint="give the path of a labels.csv")
    parsed = labels_csv.read(labels)
    approved = [d for d in parsed.drafts if d.status == LabelStatus.APPROVED]
    drafts = [d.with_ref(labels_csv.map_prefix(d.image_ref, labels_csv.REFERENCE_PREFIX, root)) for d in approved]
    with tempfile.TemporaryDirectory(prefix="qiloop-evaluate-") as tmp:
        package = resolve_model(model, Path(tmp), registry)
        evaluation = evaluate_package(
            package,
            drafts,
            read_local,
            int8=int8,
            confidence=confidence,
            threads=threads,
            progress=progress,
        )
    parse_failures = tuple(Failure(e.source or str(labels), str(e)) for e in parsed.errors)
    return dataclasses.replace(
        evaluation,
        failures=parse_failures + evaluation.failures,
        extra={**evaluation.extra, "labels": str(labels), "skipped": len(parsed.drafts) - len(approved)},
    )
