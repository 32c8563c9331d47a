"""The model pre-labels of ``qiloop labeling jobs create --prelabel-model``: run before the job is written.

The model runs before the job's transaction opens (on SQLite a transaction
holds the database's write lock, and a model over thousands of images takes
minutes); the job and its gold pre-labels are then written together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

PRELABEL_HELP = (
    "Pre-label with this model: a registry reference (scratch-detector@production) or a model package folder. "
    "Its boxes, at the thresholds in the package's manifest and with their scores, are shown on the job's images "
    "and on the gold images mixed into the job. With --from feedback the images keep the boxes their devices "
    "reported and only the gold images get the model's. Without a model, gold images show no pre-labels: in a job "
    "pre-labelled from feedback that lets workers tell gold images apart, so give a model there too."
)


def model_prelabels(
    ref: str,
    settings,
    db,
    store,
    name: str,
    records: Sequence,
    *,
    feedback: Mapping[str, Sequence] | None,
    classes: Sequence[str],
    gold: bool,
    progress: bool,
) -> tuple[str, dict, dict]:
    """Run the model ``ref`` for a job named ``name``: its pre-label source, item boxes and gold boxes by sha256.

    Images of a feedback job (``feedback`` given) keep their devices' boxes; the
    model then runs on the gold images only (``gold``: the job serves gold images).

    Raises:
        ConfigurationError: A job named ``name`` exists, or the model predicts none of ``classes``.
        NotFoundError: ``ref`` is neither a package folder nor a registered version; a gold image is not stored.
    """
    from sqlalchemy import select

    from qiloop.core.errors import ConfigurationError
    from qiloop.labeling import gold_prelabels, prelabel
    from qiloop.labeling.models import Job

    with db.session() as session:
        if session.scalar(select(Job.id).where(Job.name == name)) is not None:
            raise ConfigurationError(f"a job named {name!r} already exists", hint="choose another job name")
        gold_records = gold_prelabels.gold_images(session, store) if gold else []
    images = list(gold_records) if feedback is not None else [*records, *gold_records]

    def registry():
        from qiloop.registry import ModelRegistry

        return ModelRegistry.from_settings(settings)

    with prelabel.model_package(ref, registry) as package:
        boxes = prelabel.predict_prelabels(package.path, images, store, classes=classes, progress=progress)
    source = package.source
    gold_boxes = {r.sha256: boxes[r.sha256] for r in gold_records}
    if feedback is not None:
        return f"feedback,{source}", dict(feedback), gold_boxes
    return source, {r.sha256: boxes[r.sha256] for r in records}, gold_boxes


def store_gold(session, job_id: int, gold_boxes: Mapping[str, Sequence]) -> None:
    """Keep a new job's gold pre-labels, in the job's own transaction."""
    if gold_boxes:
        from qiloop.labeling import gold_prelabels

        gold_prelabels.store(session, job_id, gold_boxes)
