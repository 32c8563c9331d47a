"""The data half of the loop as assets: new images, the labelling job over them, the label-store snapshot.

Each asset calls one use case of :mod:`qiloop.loop` and records its figures as
numeric metadata (what Dagster plots across materialisations).
"""

import time
from pathlib import Path

import dagster as dg
from pydantic import Field

from qiloop.orchestration.policies import GROUP, NETWORK_RETRY
from qiloop.orchestration.resources import (
    ImageStoreResource,
    LabelingDatabaseResource,
    LabelStoreResource,
    LoopResource,
    RegistryResource,
)

SOURCES = ("feedback", "unlabeled")


class IngestConfig(dg.Config):
    """Which files to ingest: those the camera sensor saw, or (empty) the whole camera folder."""

    paths: list[str] = Field(default_factory=list, description="Image files; empty: the camera folder.")
    source: str = Field(default="camera", description="Where they come from (camera, camera:<id>, import).")


@dg.asset(
    group_name=GROUP,
    retry_policy=NETWORK_RETRY,
    description="Camera images in the content-addressed image store (duplicates by sha256 write nothing).",
    kinds={"python", "delta"},
)
def new_images(context: dg.AssetExecutionContext, config: IngestConfig, images: ImageStoreResource, loop: LoopResource):
    from qiloop.loop.ingest import ingest_images

    paths = config.paths or [str(loop.loop_settings().camera_folder)]
    missing = [p for p in paths if not Path(p).exists()]
    if config.paths and len(missing) == len(paths):
        context.log.warning(f"none of the {len(paths)} files is there any more (moved or deleted): nothing to ingest")
    present = [p for p in paths if Path(p).exists()]
    result = ingest_images(images.open(), present, source=config.source)
    for reason in result.rejected[:20]:
        context.log.warning(f"refused: {reason}")
    return dg.MaterializeResult(metadata={**result.metadata(), "files": len(paths), "missing": len(missing)})


class LabelingJobConfig(dg.Config):
    """Which waiting images the new job takes: device feedback, images without an approved label, or both."""

    sources: list[str] = Field(default_factory=lambda: list(SOURCES), description="feedback and/or unlabeled.")
    min_images: int = Field(
        default=1, ge=1, description="Open a job over unlabelled images only when at least this many wait."
    )
    limit: int | None = Field(default=None, description="At most this many images per job.")
    annotators: int = Field(default=3, ge=1, description="Annotators per image.")
    gold_every: int = Field(default=0, ge=0, description="Every n-th task of a worker is a gold image (0: none).")
    prelabel_model: str | None = Field(
        default="production", description="Model that pre-labels: production, NAME/VERSION, a folder, or null."
    )


@dg.asset(
    group_name=GROUP,
    deps=[new_images],
    retry_policy=NETWORK_RETRY,
    output_required=False,
    description="A labelling job over the images waiting for labels, pre-labelled by the production model "
    "(feedback images keep the boxes their device saw). Materialised only when a job opens; in the ingest "
    "run it opens once label_job_min_images unlabelled images wait.",
    kinds={"python", "sql"},
)
def labeling_job(
    context: dg.AssetExecutionContext,
    config: LabelingJobConfig,
    images: ImageStoreResource,
    labels: LabelStoreResource,
    labeling_db: LabelingDatabaseResource,
    registry: RegistryResource,
    loop: LoopResource,
):
    from qiloop.core.errors import ConfigurationError
    from qiloop.loop.labeling_job import open_labeling_job

    unknown = sorted(set(config.sources) - set(SOURCES))
    if unknown:
        raise ConfigurationError(f"unknown image sources {unknown}", hint=f"choose among {list(SOURCES)}")
    started = time.perf_counter()
    classes = loop.loop_settings().classes
    totals = {"jobs": 0, "images": 0, "prelabelled": 0, "prelabel_boxes": 0}
    names, through = [], {}
    for source in config.sources:
        selected_at = time.time()  # every image ingested before this either joins the job or was already held
        opened = open_labeling_job(
            labeling_db.open(), images.open(), labels.open(), classes=classes, source=source,
            registry=lambda: _registry_if_needed(registry, config.prelabel_model), model_name=registry.model_name,
            prelabel_model=config.prelabel_model, limit=config.limit, annotators=config.annotators,
            min_images=config.min_images if source == "unlabeled" else 1,
            gold_every=config.gold_every,
        )  # fmt: skip
        if opened is None:
            wanted = f" ({config.min_images} needed)" if source == "unlabeled" and config.min_images > 1 else ""
            context.log.info(f"no job: too few {source} images wait for a label{wanted}")
            continue
        names.append(opened.name)
        through[f"{source}_through"] = round(selected_at, 3)
        totals["jobs"] += 1
        for key, value in opened.metadata().items():
            totals[key] = totals.get(key, 0) + value
        context.log.info(
            f"opened job {opened.name}: {opened.images} {source} images, pre-labels {opened.prelabel_source}"
        )
    if not names:
        return  # no materialisation: nothing changed in the labelling service
    metadata = {**totals, **through, "seconds": round(time.perf_counter() - started, 3)}
    yield dg.MaterializeResult(metadata=metadata | {"job_names": ", ".join(names)})


def _registry_if_needed(registry: RegistryResource, model: str | None):
    """The registry when pre-labels need one (a reference); None for a folder, no model, or no registry extra."""
    if model is None or Path(model).exists():
        return None
    from qiloop.core.errors import MissingDependencyError

    try:
        return registry.open()
    except MissingDependencyError:  # without the registry extra, jobs open without model pre-labels
        return None


@dg.asset(
    group_name=GROUP,
    deps=[labeling_job],
    retry_policy=NETWORK_RETRY,
    description="The label store's approved labels as of now: approvals not yet published are appended first; "
    "the version read is what the training dataset is built from.",
    kinds={"python", "delta"},
)
def label_snapshot(labeling_db: LabelingDatabaseResource, labels: LabelStoreResource):
    started = time.perf_counter()
    store = labels.open()
    published = _publish(labeling_db, store)
    stats = store.stats() if store.version() is not None else {}
    snapshot = store.snapshot() if store.version() is not None else None
    metadata = {
        "label_store_version": -1 if snapshot is None else snapshot.label_store_version,
        "approved_images": 0 if snapshot is None else len(snapshot.record_ids),
        "published_now": published.appended if published is not None else 0,
        "records": int(stats.get("records", 0)),
        "boxes": int(stats.get("boxes", 0)),
        "images_with_labels": int(stats.get("images", 0)),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return dg.MaterializeResult(metadata=metadata)


def _publish(labeling_db: LabelingDatabaseResource, store):
    """Publish pending approvals when a labelling database is configured and reachable (the label extra)."""
    try:
        db = labeling_db.open()
    except ImportError:
        return None
    from qiloop.loop.publish import publish_approved_labels

    return publish_approved_labels(db, store)
