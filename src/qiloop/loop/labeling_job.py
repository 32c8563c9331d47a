"""Use case: open a labelling job for the images waiting for labels, with model pre-labels.

Two kinds of waiting images: those in the image store without an APPROVED label
(``unlabeled``), and those devices sent back (``feedback``). Images another open
job already holds are left out before ``limit`` applies. Pre-labels: for
``unlabeled`` the model's boxes (by default the production model's, when one is
approved); for ``feedback`` the boxes the device's model reported, while the model
pre-labels the gold images mixed in, so workers cannot tell gold images apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

Source = Literal["unlabeled", "feedback"]
PRODUCTION = "production"
INSTRUCTIONS = "Draw a tight box around every scratch; leave engraving and smudges alone."


@dataclass(frozen=True)
class OpenedJob:
    """A new labelling job: its name, where its images came from, and how they were pre-labelled."""

    name: str
    source: Source
    images: int
    prelabel_source: str | None
    prelabelled: int  # images shown with at least one box
    prelabel_boxes: int

    def metadata(self) -> dict[str, float]:
        return {"images": self.images, "prelabelled": self.prelabelled, "prelabel_boxes": self.prelabel_boxes}


def waiting_images(db, images, labels, source: Source = "unlabeled", *, limit: int | None = None):
    """The images a new job would take, and the devices' boxes for ``feedback`` (None for ``unlabeled``).

    Returns:
        ``(records, device_boxes)``.
    """
    from qiloop.labeling import jobs

    with db.session() as session:
        queued = jobs.queued_sha256s(session)
    if source == "feedback":
        return jobs.feedback_images(images, limit, exclude=queued | labels.labeled_sha256s())
    return jobs.images_without_approved_label(images, labels, limit, exclude=queued), None


def open_labeling_job(
    db,
    images,
    labels,
    *,
    classes: Sequence[str],
    source: Source = "unlabeled",
    name: str | None = None,
    registry=None,
    prelabel_model: str | None = PRODUCTION,
    limit: int | None = None,
    annotators: int = 3,
    gold_every: int = 0,
    instructions: str = INSTRUCTIONS,
    progress: bool = False,
) -> OpenedJob | None:
    """Open a job over the waiting images of ``source``; None when no image is waiting.

    Args:
        db: The labelling database (:class:`qiloop.labeling.db.Database`).
        images, labels: The image store and the label store.
        classes: The job's classes.
        source: ``unlabeled`` (no APPROVED label) or ``feedback`` (sent back by devices, not yet approved).
        name: The job's name (default ``<source>-<UTC time>``).
        registry: The model registry that resolves ``prelabel_model`` references.
        prelabel_model: ``production`` (the production model, when the registry has one), a registry
            reference (``scratch-detector/3``), a package folder, or None for no model pre-labels.
        limit: At most this many images.
        annotators: Annotators per image.
        gold_every: Every n-th task of a worker is a gold image (0: none).

    Raises:
        ConfigurationError: The name is taken, or the model predicts none of ``classes``.
        NotFoundError: ``prelabel_model`` names no package or version.
    """
    from qiloop.labeling import gold_prelabels, jobs

    records, device_boxes = waiting_images(db, images, labels, source, limit=limit)
    if not records:
        return None
    name = name or f"{source}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    with db.session() as session:
        gold_records = gold_prelabels.gold_images(session, images) if gold_every > 0 else []
    prelabels = dict(device_boxes) if device_boxes is not None else {}
    prelabel_source = "feedback" if device_boxes is not None else None
    gold_boxes: dict = {}
    ref = _model_ref(registry, prelabel_model)
    if ref is not None:
        wanted = list(gold_records) if device_boxes is not None else [*records, *gold_records]
        model_source, boxes = _predict(ref, registry, wanted, images, classes, progress)
        gold_boxes = {r.sha256: boxes[r.sha256] for r in gold_records}
        if device_boxes is None:
            prelabels = {r.sha256: boxes[r.sha256] for r in records}
            prelabel_source = model_source
        else:
            prelabel_source = f"feedback,{model_source}"
    spec = jobs.JobSpec.build(
        name=name, classes=list(classes), instructions=instructions, annotators_per_image=annotators,
        gold_every=gold_every, prelabel_source=prelabel_source,
    )  # fmt: skip
    with db.session() as session:
        summary = jobs.create_job(session, spec, records, prelabels=prelabels)
        if gold_boxes:
            gold_prelabels.store(session, summary.id, gold_boxes)
    shown = [prelabels.get(r.sha256, ()) for r in records]
    return OpenedJob(
        name=summary.name,
        source=source,
        images=summary.images,
        prelabel_source=prelabel_source,
        prelabelled=sum(1 for boxes in shown if boxes),
        prelabel_boxes=sum(len(boxes) for boxes in shown),
    )


def _model_ref(registry, prelabel_model: str | None) -> str | None:
    """``production`` as the production version's reference (None when nothing is approved yet)."""
    if prelabel_model != PRODUCTION:
        return prelabel_model
    if registry is None:
        return None
    production = registry.production()
    return None if production is None else production.ref


def _predict(ref: str, registry, records, images, classes, progress: bool) -> tuple[str, dict]:
    from qiloop.labeling import prelabel

    with prelabel.model_package(ref, (lambda: registry) if registry is not None else None) as package:
        boxes = prelabel.predict_prelabels(package.path, records, images, classes=classes, progress=progress)
    return package.source, boxes
