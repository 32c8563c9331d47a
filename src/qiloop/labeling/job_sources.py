"""Opening a labelling job from a source of images: those without an approved label, or device feedback.

What ``qiloop labeling jobs create --from unlabeled|feedback`` does, for callers
that hold open stores (the admin's form and JSON API): images another job holds
are left out before ``limit`` applies (and, of feedback, images approved since
they came back, as ``qiloop.loop.labeling_job`` does); feedback images bring
their device's boxes as pre-labels; :func:`qiloop.labeling.jobs.create_job`
makes the job.
"""

from __future__ import annotations

from qiloop.core.errors import ConfigurationError
from qiloop.labeling import jobs
from qiloop.labeling.db import Database

SOURCES = {
    "unlabeled": "images without an approved label",
    "feedback": "images devices sent back, not approved yet, with their model's boxes as pre-labels",
}


def open_job(
    db: Database,
    image_store,
    label_store,
    spec: jobs.JobSpec,
    source: str = "unlabeled",
    *,
    limit: int | None = None,
    created_by: int | None = None,
) -> jobs.JobSummary:
    """Create the job ``spec`` over the free images of ``source`` (at most ``limit``).

    Raises:
        ConfigurationError: An unknown source, or the job name is taken.
        NotFoundError: No image of the source is free to label.
    """
    if source not in SOURCES:
        raise ConfigurationError(f"unknown image source {source!r}", hint=f"use one of {', '.join(SOURCES)}")
    with db.session() as session:
        queued = jobs.queued_sha256s(session)
    prelabels = None
    if source == "feedback":
        records, prelabels = jobs.feedback_images(image_store, limit, exclude=queued | label_store.labeled_sha256s())
        spec = spec.model_copy(update={"prelabel_source": "feedback"})
    else:
        records = jobs.images_without_approved_label(image_store, label_store, limit, exclude=queued)
    with db.session() as session:
        return jobs.create_job(session, spec, records, prelabels=prelabels, created_by=created_by)
