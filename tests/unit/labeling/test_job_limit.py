"""A new job's --limit counts free images: without an approved label and not waiting in another job's queue.

Real databases (SQLite, and PostgreSQL where it runs), a real image store and
label store. The bug this guards: the limit was applied before the images
queued elsewhere were left out, so with 6 free images ``--limit 3`` found none
and ``--limit 8`` made a job of 2.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime, timezone

import pytest

from labeling_helpers import ingest_images, labeling_db_url
from qiloop.core.errors import NotFoundError
from qiloop.labeling import jobs, lifecycle
from qiloop.labeling.db import Database
from qiloop.labelstore import LabelStore
from qiloop.storage import ImageStore
from qiloop.storage.feedback import FeedbackEntry


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path):
    with ExitStack() as stack:
        database = Database.from_url(labeling_db_url(request.param, tmp_path, stack))
        try:
            yield database
        finally:
            database.dispose()


@pytest.fixture
def stores(tmp_path):
    images, labels = ImageStore.from_url(str(tmp_path / "images")), LabelStore.from_url(str(tmp_path / "labels"))
    return images, labels, ingest_images(images, 10)


def new_job(database, name, records, prelabels=None):
    spec = jobs.JobSpec.build(name=name, classes=["scratch"], annotators_per_image=1)
    with database.session() as session:
        return jobs.create_job(session, spec, records, prelabels=prelabels)


def free(database, images, labels, limit):
    with database.session() as session:
        queued = jobs.queued_sha256s(session)
    return jobs.images_without_approved_label(images, labels, limit, exclude=queued)


@pytest.mark.parametrize(("limit", "expected"), [(3, 3), (6, 6), (8, 6), (None, 6)])
def test_the_limit_takes_that_many_free_images(database, stores, limit, expected):
    images, labels, records = stores
    new_job(database, "first", records[:4])  # the 4 oldest are queued there; 6 are free
    chosen = free(database, images, labels, limit)
    assert [r.sha256 for r in chosen] == [r.sha256 for r in records[4 : 4 + expected]]  # oldest free first
    assert new_job(database, "second", chosen).images == expected


def test_nothing_free_is_not_found_and_a_cancelled_job_frees_its_images(database, stores):
    images, labels, records = stores
    new_job(database, "all", records)
    assert free(database, images, labels, 3) == []
    with database.session() as session, pytest.raises(NotFoundError, match="no image to label"):
        jobs.create_job(session, jobs.JobSpec.build(name="none", classes=["x"]), [])
    with database.session() as session:
        lifecycle.cancel_job(session, "all")
    assert [r.sha256 for r in free(database, images, labels, 3)] == [r.sha256 for r in records[:3]]


def test_feedback_images_take_the_limit_after_leaving_out_queued_ones(database, stores):
    images, _, records = stores
    sent = datetime(2024, 5, 1, tzinfo=timezone.utc)
    entries = [
        FeedbackEntry(
            image_sha256=r.sha256, image_name=f"{i}.png", device_id="dev-1", sequence=i,
            reason="uncertain", model_name="scratch", prelabels=[], sent_at=sent,
        )
        for i, r in enumerate(records[:6])
    ]  # fmt: skip
    images.feedback.append(entries)
    new_job(database, "first", records[:4])
    with database.session() as session:
        queued = jobs.queued_sha256s(session)
    chosen, prelabels = jobs.feedback_images(images, 2, exclude=queued)
    assert [r.sha256 for r in chosen] == [r.sha256 for r in records[4:6]]
    assert new_job(database, "from-feedback", chosen, prelabels).images == 2
    with database.session() as session:
        assert jobs.feedback_images(images, 5, exclude=jobs.queued_sha256s(session))[0] == []
