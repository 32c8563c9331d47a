"""The labelling service on SQLite and on PostgreSQL: jobs, the task queue, leases, gold, verification.

Real image store, real label store (Delta), real databases; leases run on the
real clock with one-second timeouts.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from labeling_helpers import add_users, ingest_images, labeling_db_url
from qiloop.core.errors import InvalidRecordError, NotFoundError, StoreError
from qiloop.core.records import Box, LabelRecord, LabelSource, LabelStatus
from qiloop.labeling import jobs, tasks, verification
from qiloop.labeling.db import Database, utcnow
from qiloop.labeling.errors import ConflictError, PermissionDeniedError
from qiloop.labeling.goldset import add_gold
from qiloop.labeling.models import Annotation, JobItem, Task
from qiloop.labeling.publish import publish_pending
from qiloop.labeling.workforce import accuracy
from qiloop.labelstore import LabelStore
from qiloop.storage import ImageStore

pytestmark = pytest.mark.slow

SCRATCH = Box.from_xyxy(10, 10, 60, 20)
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    with ExitStack() as stack:
        database = Database.from_url(labeling_db_url(request.param, tmp_path, stack))
        yield database
        database.dispose()


@pytest.fixture
def stores(tmp_path):
    return ImageStore.from_url(str(tmp_path / "images")), LabelStore.from_url(str(tmp_path / "labels"))


def make_job(db, records, **spec):
    fields = {"name": "job-1", "classes": ["scratch"], "annotators_per_image": 3} | spec
    with db.session() as session:
        return jobs.create_job(session, jobs.JobSpec.build(**fields), records)


def label_all(db, job, workers, boxes_of=lambda worker, task: [SCRATCH]):
    """Each worker takes and submits tasks until none is left; returns (worker, sha256) pairs."""
    done = []
    for worker in workers:
        while (task := tasks.next_task(db, job, worker)) is not None:
            tasks.submit(db, task.id, worker, boxes_of(worker, task))
            done.append((worker, task.image_sha256))
    return done


def test_job_takes_images_without_an_approved_label_and_never_queues_one_twice(db, stores):
    images, labels = stores
    records = ingest_images(images, 5)
    approved = records[0]
    labels.append(
        [
            LabelRecord(
                image_uri=approved.uri,
                image_sha256=approved.sha256,
                image_width=96,
                image_height=64,
                image_depth=3,
                event_time=T0,
                annotations=(SCRATCH,),
            )
        ]
    )
    candidates = jobs.images_without_approved_label(images, labels)
    assert {r.sha256 for r in candidates} == {r.sha256 for r in records[1:]}
    summary = make_job(db, candidates[:3])
    assert (summary.images, summary.labeling, summary.approved) == (3, 3, 0)
    second = make_job(db, jobs.images_without_approved_label(images, labels), name="job-2")
    assert second.images == 1  # the three queued in job-1 are left out
    with pytest.raises(NotFoundError, match="no image to label"):
        make_job(db, candidates, name="job-3")
    with pytest.raises(Exception, match="already exists"):
        make_job(db, records[4:], name="job-1")
    with db.session() as session:
        assert [j.name for j in jobs.list_jobs(session)] == ["job-2", "job-1"]


def test_three_workers_label_every_image_once_each_then_consolidation_and_approval(db, stores):
    images, labels = stores
    records = ingest_images(images, 4)
    make_job(db, records)
    add_users(db, "ann", "bob", "cy")
    add_users(db, "vera", role="verifier")
    spurious = Box.from_xyxy(70, 40, 90, 60)
    done = label_all(db, "job-1", ["ann", "bob", "cy"], lambda w, t: [SCRATCH, spurious] if w == "cy" else [SCRATCH])
    assert len(done) == 12 and len(set(done)) == 12  # every worker saw every image exactly once
    assert Counter(sha for _, sha in done) == {r.sha256: 3 for r in records}

    queue = verification.review_queue(db, "job-1")
    assert len(queue) == 4
    first = queue[0]
    assert [b.box.xyxy for b in first.boxes] == [pytest.approx(SCRATCH.xyxy)]  # cy's extra box is below quorum
    assert first.boxes[0].annotators == ("ann", "bob", "cy")
    assert first.agreement == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert set(first.annotations) == {"ann", "bob", "cy"} and len(first.annotations["cy"]) == 2

    with pytest.raises(PermissionDeniedError):
        verification.approve(db, labels, first.item_id, "ann")
    record = verification.approve(db, labels, first.item_id, "vera")
    stored = labels.latest()
    assert [r.record_id for r in stored] == [record.record_id]
    (got,) = stored
    assert got.status is LabelStatus.APPROVED and got.source is LabelSource.HUMAN
    assert got.labeling_job == "job-1" and got.verifier == "vera"
    assert got.annotators == ("ann", "bob", "cy") and got.agreement == pytest.approx(first.agreement)
    assert [b.xyxy for b in got.annotations] == [pytest.approx(SCRATCH.xyxy)] and got.annotations[0].score is None
    with pytest.raises(ConflictError):
        verification.approve(db, labels, first.item_id, "vera")

    adjusted = [Box.from_xyxy(11, 11, 59, 19)]
    record2 = verification.approve(db, labels, queue[1].item_id, "vera", boxes=adjusted)
    assert [b.xyxy for b in record2.annotations] == [adjusted[0].xyxy]
    with pytest.raises(InvalidRecordError, match="outside"):
        verification.approve(db, labels, queue[2].item_id, "vera", boxes=[Box.from_xyxy(0, 0, 500, 10)])
    assert publish_pending(db, labels) == 0
    with db.session() as session:
        assert jobs.summary(session, jobs.get_job(session, "job-1")).approved == 2


def test_rejected_image_returns_as_a_new_round_for_workers_who_have_not_seen_it(db, stores):
    images, labels = stores
    (record,) = ingest_images(images, 1)
    make_job(db, [record], annotators_per_image=2)
    add_users(db, "ann", "bob", "cy", "dee")
    add_users(db, "vera", role="verifier")
    label_all(db, "job-1", ["ann", "bob"])
    (item,) = verification.review_queue(db, "job-1")
    with pytest.raises(Exception, match="reason"):
        verification.reject(db, item.item_id, "vera", "  ")
    verification.reject(db, item.item_id, "vera", "the scratch continues to the right edge")
    assert verification.review_queue(db, "job-1") == []
    assert tasks.next_task(db, "job-1", "ann") is None  # ann labelled it in this job already
    longer = [Box.from_xyxy(10, 10, 90, 20)]
    label_all(db, "job-1", ["cy", "dee"], lambda w, t: longer)
    (again,) = verification.review_queue(db, "job-1")
    assert again.round == 2 and again.boxes[0].annotators == ("cy", "dee")
    record2 = verification.approve(db, labels, again.item_id, "vera")
    assert record2.annotators == ("cy", "dee") and record2.annotations[0].xyxy == pytest.approx(longer[0].xyxy)


def test_abandoned_task_returns_to_the_queue_when_its_lease_runs_out(db, stores):
    images, _ = stores
    (record,) = ingest_images(images, 1)
    make_job(db, [record], annotators_per_image=1, lease_seconds=1.0)
    add_users(db, "ann", "bob")
    held = tasks.next_task(db, "job-1", "ann")
    assert held is not None and held.image_sha256 == record.sha256 and held.prelabels == ()
    assert tasks.next_task(db, "job-1", "ann").id == held.id  # asking again returns the same task
    assert tasks.next_task(db, "job-1", "bob") is None  # the only slot is leased
    taken = tasks.next_task(db, "job-1", "bob", now=utcnow() + timedelta(seconds=1.3))  # after the lease ran out
    assert taken is not None and taken.image_sha256 == record.sha256 and taken.id != held.id
    with pytest.raises(ConflictError, match="lease"):
        tasks.submit(db, held.id, "ann", [SCRATCH])
    with pytest.raises(NotFoundError):
        tasks.submit(db, taken.id, "ann", [SCRATCH])  # not ann's task
    assert tasks.submit(db, taken.id, "bob", [SCRATCH]) is True
    with pytest.raises(ConflictError, match="already"):
        tasks.submit(db, taken.id, "bob", [SCRATCH])


def test_gold_images_are_mixed_in_scored_and_weight_the_workers(db, stores):
    images, _ = stores
    records = ingest_images(images, 6)
    gold_records = records[4:]
    with db.session() as session:
        add_gold(
            session,
            [
                LabelRecord(
                    image_uri=r.uri,
                    image_sha256=r.sha256,
                    image_width=96,
                    image_height=64,
                    image_depth=3,
                    event_time=T0,
                    annotations=(SCRATCH,),
                )
                for r in gold_records
            ],
        )
    make_job(db, records[:4], annotators_per_image=2, gold_every=2)
    add_users(db, "good", "sloppy")
    gold_shas = {r.sha256 for r in gold_records}
    wrong = [Box.from_xyxy(60, 40, 80, 60)]
    done = label_all(db, "job-1", ["good", "sloppy"], lambda w, t: wrong if w == "sloppy" else [SCRATCH])
    for worker in ("good", "sloppy"):
        mine = [sha for w, sha in done if w == worker]
        assert mine[1] in gold_shas and mine[3] in gold_shas  # every second task is gold
        assert len(mine) == 6  # 4 job images + both gold images
    with db.session() as session:
        report = accuracy(session)
    assert report["good"].gold_items == 2 and report["good"].mean_f1 == 1.0
    assert report["sloppy"].mean_f1 == 0.0 and report["sloppy"].reliability < report["good"].reliability


def test_concurrent_workers_never_overfill_an_image_or_repeat_one(db, stores):
    images, _ = stores
    records = ingest_images(images, 6)
    make_job(db, records, annotators_per_image=2)
    workers = [f"w{i}" for i in range(6)]
    add_users(db, *workers)
    errors = []

    def annotations() -> int:
        with db.session() as session:
            return len(session.execute(select(Annotation.id)).all())

    def work(worker):
        # A worker that finds the queue empty while others still hold leases comes back, as a person
        # would; otherwise an image leased by the last worker to see it could stay one annotation short.
        deadline = time.monotonic() + 60
        try:
            while annotations() < 2 * len(records) and time.monotonic() < deadline:
                label_all(db, "job-1", [worker])
                time.sleep(0.05)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with db.session() as session:
        rows = session.execute(select(Task.image_sha256, Task.worker_id).join(Annotation)).all()
        items = session.scalars(select(JobItem)).all()
    assert Counter(sha for sha, _ in rows) == {r.sha256: 2 for r in records}
    assert len(set(rows)) == len(rows)
    assert all(i.state == "verifying" and i.active_tasks == 2 for i in items)


def test_an_approval_whose_label_store_write_failed_is_finished_by_publish_pending(db, stores, tmp_path):
    images, labels = stores
    (record,) = ingest_images(images, 1)
    make_job(db, [record], annotators_per_image=1)
    add_users(db, "ann")
    add_users(db, "vera", role="verifier")
    label_all(db, "job-1", ["ann"])
    (item,) = verification.review_queue(db, "job-1")
    (tmp_path / "not-a-folder").write_text("")
    broken = LabelStore.from_url(str(tmp_path / "not-a-folder" / "labels"))
    with pytest.raises(StoreError, match="opening the label store"):  # the store's failure, said as a qiloop error
        verification.approve(db, broken, item.item_id, "vera")
    assert labels.latest() == []
    assert publish_pending(db, labels) == 1
    (stored,) = labels.latest()
    assert stored.verifier == "vera" and stored.annotators == ("ann",)
    assert publish_pending(db, labels) == 0
    assert labels.stats()["records"] == 1
