"""One worker asking for a task from several places at once gets one task: the lost race is retried (TASK_LEASE)."""

from __future__ import annotations

import threading
from contextlib import ExitStack

import pytest
from sqlalchemy import select

from labeling_helpers import add_users, ingest_images, labeling_db_url
from qiloop.labeling import jobs, tasks
from qiloop.labeling.db import Database
from qiloop.labeling.models import Task
from qiloop.storage import ImageStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    with ExitStack() as stack:
        database = Database.from_url(labeling_db_url(request.param, tmp_path, stack))
        yield database
        database.dispose()


def test_a_worker_asking_eight_times_at_once_holds_one_task(db, tmp_path):
    records = ingest_images(ImageStore.from_url(str(tmp_path / "images")), 6)
    with db.session() as session:
        jobs.create_job(session, jobs.JobSpec.build(name="job-1", classes=["scratch"]), records)
    add_users(db, "ann")
    start, got, errors = threading.Barrier(8), [], []

    def ask() -> None:
        start.wait()
        try:
            got.append(tasks.next_task(db, "job-1", "ann"))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(got) == 8 and len({task.id for task in got}) == 1  # asking again returns the same task
    with db.session() as session:
        assert len(session.scalars(select(Task)).all()) == 1
