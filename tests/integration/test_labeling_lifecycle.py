"""A job's lifecycle on SQLite and PostgreSQL: close, reopen, cancel; and when a worker without a task should ask again.

Real image store, real label store (Delta), real databases; leases run on the
real clock with one-second timeouts.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import timedelta

import pytest
from sqlalchemy import select

from labeling_helpers import add_users, ingest_images, labeling_db_url
from qiloop.core.errors import NotFoundError
from qiloop.core.records import Box
from qiloop.labeling import jobs, lifecycle, tasks, verification
from qiloop.labeling.api import access
from qiloop.labeling.db import Database, utcnow
from qiloop.labeling.errors import ConflictError
from qiloop.labeling.models import JobItem, Task, User
from qiloop.labelstore import LabelStore
from qiloop.storage import ImageStore

pytestmark = pytest.mark.slow

SCRATCH = Box.from_xyxy(10, 10, 60, 20)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    with ExitStack() as stack:
        database = Database.from_url(labeling_db_url(request.param, tmp_path, stack))
        yield database
        database.dispose()


@pytest.fixture
def stores(tmp_path):
    return ImageStore.from_url(str(tmp_path / "images")), LabelStore.from_url(str(tmp_path / "labels"))


def make_job(db, records, name="job-1", **spec):
    fields = {"name": name, "classes": ["scratch"], "annotators_per_image": 1} | spec
    with db.session() as session:
        return jobs.create_job(session, jobs.JobSpec.build(**fields), records)


def move(db, action, name="job-1"):
    with db.session() as session:
        return action(session, name)


def test_a_closed_job_hands_out_nothing_new_but_takes_held_tasks_and_is_verified(db, stores):
    images, labels = stores
    records = ingest_images(images, 3)
    make_job(db, records)
    add_users(db, "ann", "bob")
    add_users(db, "vera", role="verifier")
    held = tasks.next_task(db, "job-1", "ann")

    closed = move(db, lifecycle.close_job)
    assert (closed.previous, closed.job.state, closed.changed) == ("open", "closed", True)
    with pytest.raises(ConflictError, match="'job-1' is closed") as refused:
        tasks.next_task(db, "job-1", "bob")
    assert "reopen" in refused.value.hint
    assert tasks.next_task(db, "job-1", "ann").id == held.id  # the held task is still ann's to finish
    assert tasks.submit(db, held.id, "ann", [SCRATCH]) is True  # consolidated as usual
    with pytest.raises(ConflictError, match="closed"):
        tasks.next_task(db, "job-1", "ann")
    (item,) = verification.review_queue(db, "job-1")
    assert verification.approve(db, labels, item.item_id, "vera").image_sha256 == held.image_sha256
    assert move(db, lifecycle.close_job).changed is False  # repeating is harmless

    reopened = move(db, lifecycle.reopen_job)
    assert (reopened.previous, reopened.job.state) == ("closed", "open")
    assert tasks.next_task(db, "job-1", "bob") is not None
    with pytest.raises(NotFoundError):
        move(db, lifecycle.close_job, "no-such-job")


def test_cancel_ends_leases_refuses_late_work_keeps_approvals_and_frees_images(db, stores):
    images, labels = stores
    records = ingest_images(images, 4)
    make_job(db, records, lease_seconds=600.0)
    add_users(db, "ann", "bob", "cy")
    add_users(db, "vera", role="verifier")
    first = tasks.next_task(db, "job-1", "ann")
    tasks.submit(db, first.id, "ann", [SCRATCH])
    (approved_item,) = verification.review_queue(db, "job-1")
    approved = verification.approve(db, labels, approved_item.item_id, "vera")
    second = tasks.next_task(db, "job-1", "ann")
    tasks.submit(db, second.id, "ann", [SCRATCH])  # waits for a verifier when the job is cancelled
    held = tasks.next_task(db, "job-1", "bob")  # an outstanding lease
    with pytest.raises(NotFoundError, match="queued elsewhere"):
        make_job(db, records[1:], name="job-0")  # while job-1 runs, its images are taken

    with db.session() as session:
        vera = session.scalar(select(User).where(User.username == "vera"))
        sha = session.scalar(select(JobItem.image_sha256).where(JobItem.state == "verifying"))
        assert access.may_read_image(session, vera.id, vera.role, sha)  # under review while the job lives
    cancelled = move(db, lifecycle.cancel_job)
    assert (cancelled.previous, cancelled.job.state, cancelled.leases_ended) == ("open", "cancelled", 1)
    assert cancelled.job.approved == 1
    with pytest.raises(ConflictError, match="cancelled and takes no more submissions"):
        tasks.submit(db, held.id, "bob", [SCRATCH])
    with pytest.raises(ConflictError, match="cancelled"):
        tasks.next_task(db, "job-1", "cy")
    with pytest.raises(ConflictError, match="cancelled"):
        verification.review_queue(db, "job-1")
    with db.session() as session:
        waiting = session.scalar(select(JobItem.id).where(JobItem.state == "verifying"))
        assert session.get(Task, held.id).state == "expired"
        assert session.get(JobItem, waiting).image_sha256 == sha
        assert not access.may_read_image(session, vera.id, vera.role, sha)  # no review in a cancelled job
    with pytest.raises(ConflictError, match="cancelled"):
        verification.approve(db, labels, waiting, "vera")
    for action in (lifecycle.close_job, lifecycle.reopen_job):
        with pytest.raises(ConflictError, match="stays cancelled"):
            move(db, action)
    assert move(db, lifecycle.cancel_job).changed is False

    # The approval stands in the label store; every image it did not approve is free for a new job.
    assert [r.record_id for r in labels.latest()] == [approved.record_id]
    again = make_job(db, records[1:], name="job-2")
    assert again.images == 3
    assert tasks.next_task(db, "job-2", "cy") is not None


def test_a_worker_without_a_task_learns_whether_and_when_to_ask_again(db, stores):
    images, _ = stores
    records = ingest_images(images, 2)
    make_job(db, records, annotators_per_image=2, lease_seconds=1.0)
    add_users(db, "ann", "bob", "cy")
    for worker in ("ann", "bob"):
        offer = tasks.offer_task(db, "job-1", worker)
        tasks.submit(db, offer.task.id, worker, [SCRATCH])
    stalled = tasks.offer_task(db, "job-1", "ann")  # ann holds the second image and never submits
    taken = tasks.offer_task(db, "job-1", "bob")
    assert stalled.task.image_sha256 == taken.task.image_sha256
    tasks.submit(db, taken.task.id, "bob", [SCRATCH])

    # cy has seen nothing, but both images are full: the second frees up when ann's lease runs out.
    wait = tasks.offer_task(db, "job-1", "cy")
    assert wait.task is None and wait.retry_after is not None and 0 < wait.retry_after <= 1.0
    # bob has seen every image: nothing is left for him, whatever the leases do.
    assert tasks.offer_task(db, "job-1", "bob") == tasks.Offer(None, None)
    late = tasks.offer_task(db, "job-1", "cy", now=utcnow() + timedelta(seconds=wait.retry_after + 0.1))
    assert late.task is not None and late.task.image_sha256 == stalled.task.image_sha256
    assert tasks.submit(db, late.task.id, "cy", [SCRATCH]) is True
    assert tasks.offer_task(db, "job-1", "cy") == tasks.Offer(None, None)
