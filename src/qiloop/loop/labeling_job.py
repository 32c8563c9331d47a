"""Use case: open a labelling job for the images waiting for labels, with model pre-labels.

The one way a job is opened from a source of images, whoever asks (``qiloop labeling
jobs create``, the ``labels_wanted`` trigger, the demo). Three sources: images in the
image store without an APPROVED label (``unlabeled``), images devices sent back
(``feedback``), and images named by sha256 (``named``). Images another open job
already holds are left out before ``limit`` applies (selection:
:func:`qiloop.labeling.job_sources.free_images`). Pre-labels: the model's boxes (by
default the production model's, when one is approved); ``feedback`` images keep the
boxes their device's model reported, while the model pre-labels the gold images mixed
in, so workers cannot tell gold images apart. The model runs before the job's
transaction opens (on SQLite a transaction holds the write lock, and a model over
thousands of images takes minutes); the job and its gold pre-labels are written together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from qiloop.labeling.consolidation import DEFAULT_MIN_SUPPORT

if TYPE_CHECKING:
    from qiloop.core.records import Box, ImageRecord
    from qiloop.labeling.jobs import JobSummary

Source = Literal["unlabeled", "feedback", "named"]
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
    summary: JobSummary | None = None  # the job as the labelling service reports it (id, classes, progress)

    def metadata(self) -> dict[str, float]:
        """The numeric figures, for a run's metadata."""
        return {"images": self.images, "prelabelled": self.prelabelled, "prelabel_boxes": self.prelabel_boxes}


def waiting_images(
    db, images, labels, source: Source = "unlabeled", *, limit: int | None = None
) -> tuple[list[ImageRecord], dict[str, list[Box]] | None]:
    """The images a new job would take, and the devices' boxes for ``feedback`` (None otherwise).

    Returns:
        ``(records, device_boxes)``.
    """
    from qiloop.labeling.job_sources import free_images

    chosen = free_images(db, images, labels, source, limit=limit)
    return chosen.records, chosen.device_boxes


def open_labeling_job(
    db,
    images,
    labels,
    *,
    classes: Sequence[str],
    source: Source = "unlabeled",
    named: Sequence[str] = (),
    name: str | None = None,
    registry: Any = None,
    model_name: str | None = None,
    prelabel_model: str | None = PRODUCTION,
    limit: int | None = None,
    min_images: int = 1,
    annotators: int = 3,
    quorum: int | None = None,
    min_support: float | None = DEFAULT_MIN_SUPPORT,
    lease_seconds: float = 900.0,
    gold_every: int = 0,
    instructions: str = INSTRUCTIONS,
    created_by: int | None = None,
    progress: bool = False,
) -> OpenedJob | None:
    """Open a job over the waiting images of ``source``; None when fewer than ``min_images`` wait.

    Args:
        db: The labelling database (:class:`qiloop.labeling.db.Database`).
        images, labels: The image store and the label store.
        classes: The job's classes.
        source: ``unlabeled`` (no APPROVED label), ``feedback`` (sent back by devices, not yet approved)
            or ``named`` (the images ``named`` lists).
        named: For ``named``: sha256s or unique prefixes of stored images.
        name: The job's name (default ``<source>-<UTC time>``).
        registry: The model registry (:class:`qiloop.registry.ModelRegistry`), or a function without
            arguments that builds it when a model reference must be resolved.
        model_name: The registered model whose production version ``production`` names (default: the
            registry's default name).
        prelabel_model: ``production`` (the production model, when the registry has one), a registry
            reference (``scratch-detector/3``, ``scratch-detector@production``), a package folder, or
            None for no model pre-labels.
        limit: At most this many images.
        min_images: Open the job only when at least this many images wait (the loop's
            ``label_job_min_images`` for new camera images; 1 for feedback or a person asking).
        annotators, quorum, min_support, lease_seconds: How the job's answers are gathered and merged
            (see :class:`qiloop.labeling.jobs.JobSpec`); ``min_support`` None: the quorum alone decides.
        gold_every: Every n-th task of a worker is a gold image (0: none).
        instructions: What workers read.
        created_by: The account that asked for the job (None: the loop itself).
        progress: Show a progress bar on stderr while the model pre-labels.

    Raises:
        ConfigurationError: An invalid job or source, the name is taken, or the model predicts none of
            ``classes``.
        NotFoundError: ``prelabel_model`` names no package or version; a named image is not stored.
    """
    from qiloop.labeling import gold_prelabels, jobs
    from qiloop.labeling.job_sources import free_images

    spec = jobs.JobSpec.build(
        name=name or f"{source}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}", classes=list(classes),
        instructions=instructions, annotators_per_image=annotators, quorum=quorum, min_support=min_support,
        lease_seconds=lease_seconds, gold_every=gold_every,
    )  # fmt: skip
    _refuse_taken(db, spec.name)
    chosen = free_images(db, images, labels, source, limit=limit, named=named)
    if not chosen.records or len(chosen.records) < (min_images if limit is None else min(min_images, limit)):
        return None
    records, prelabels, prelabel_source = chosen.records, chosen.prelabels, chosen.prelabel_source
    factory = _registry_factory(registry)
    ref = _model_ref(factory, prelabel_model, model_name)
    gold_boxes: dict = {}
    if ref is not None:
        with db.session() as session:
            gold_records = gold_prelabels.gold_images(session, images) if gold_every > 0 else []
        wanted = list(gold_records) if chosen.device_boxes is not None else [*records, *gold_records]
        model_source, boxes = _predict(ref, factory, wanted, images, classes, progress)
        gold_boxes = {r.sha256: boxes[r.sha256] for r in gold_records}
        if chosen.device_boxes is None:
            prelabels, prelabel_source = {r.sha256: boxes[r.sha256] for r in records}, model_source
        else:
            prelabel_source = f"{prelabel_source},{model_source}"
    spec = spec.model_copy(update={"prelabel_source": prelabel_source})
    with db.session() as session:
        summary = jobs.create_job(session, spec, records, prelabels=prelabels, created_by=created_by)
        if gold_boxes:
            gold_prelabels.store(session, summary.id, gold_boxes)
    shown = [prelabels.get(r.sha256, ()) for r in records]
    return OpenedJob(
        name=summary.name,
        source=chosen.source,
        images=summary.images,
        prelabel_source=prelabel_source,
        prelabelled=sum(1 for boxes in shown if boxes),
        prelabel_boxes=sum(len(boxes) for boxes in shown),
        summary=summary,
    )


def _refuse_taken(db, name: str) -> None:
    """Refuse a taken name before the model runs (minutes over many images) rather than after."""
    from qiloop.core.errors import ConfigurationError, NotFoundError
    from qiloop.labeling import jobs

    with db.session() as session:
        try:
            jobs.get_job(session, name)
        except NotFoundError:
            return
    raise ConfigurationError(f"a job named {name!r} already exists", hint="choose another job name")


def _registry_factory(registry: Any) -> Callable[[], Any] | None:
    """A function that gives the registry: ``registry`` itself when it is one, else the factory as given."""
    if registry is None or hasattr(registry, "production"):
        return None if registry is None else (lambda: registry)
    return registry


def _model_ref(registry: Callable[[], Any] | None, prelabel_model: str | None, model_name: str | None) -> str | None:
    """``production`` as the production version's reference (None when nothing is approved yet)."""
    if prelabel_model != PRODUCTION:
        return prelabel_model
    if registry is None:
        return None
    models = registry()
    if models is None:  # the factory found no registry to build (e.g. without the registry extra)
        return None
    from qiloop.core.errors import ConfigurationError
    from qiloop.registry import DEFAULT_MODEL_NAME

    name = model_name or DEFAULT_MODEL_NAME
    try:
        # qiloop's approval ledger (a small SQLite file) says whether anything stands approved; only then is
        # MLflow asked which version production is (importing MLflow alone takes seconds: a labelling job
        # opened by the loop before any model exists should not pay for it).
        if models.ledger.standing(name) is None:
            return None
    except ConfigurationError:  # a registry without the ledger: MLflow decides alone
        pass
    production = models.production(name)
    return None if production is None else production.ref


def _predict(ref: str, registry: Callable[[], Any] | None, records, images, classes, progress: bool):
    """The model's source name and its boxes by sha256 over ``records``."""
    from qiloop.labeling import prelabel

    with prelabel.model_package(ref, registry) as package:
        boxes = prelabel.predict_prelabels(package.path, records, images, classes=classes, progress=progress)
    return package.source, boxes
