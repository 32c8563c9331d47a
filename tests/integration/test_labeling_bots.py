"""The simulated workforce over real HTTP: six bots (one sloppy) label a job of synthetic tags, three per image.

Every image ends consolidated, the sloppy bot's gold accuracy gets it flagged,
and the consolidated boxes are measured against the generator's truth. Run with
``-s`` to see the figures. A lease that runs out mid-run is waited for, not left
one annotation short.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from browser_helpers import synth_images
from labeling_helpers import ingest_images
from labeling_web_helpers import running_service
from qiloop.core.records import LabelRecord
from qiloop.labeling import jobs
from qiloop.labeling.consolidation import consolidate
from qiloop.labeling.goldset import add_gold
from qiloop.labeling.models import Annotation, Task
from qiloop.labeling.workforce import accuracy
from qiloop.sim import bots
from qiloop.sim.truth import SynthTruth, quality

pytestmark = pytest.mark.slow

SIZE = (320, 224)


def gold_records(records, truth) -> list[LabelRecord]:
    t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    return [
        LabelRecord(
            image_uri=r.uri, image_sha256=r.sha256, image_width=r.width, image_height=r.height, image_depth=r.depth,
            annotations=truth[r.sha256], event_time=t0,
        )
        for r in records
        if truth[r.sha256]
    ]  # fmt: skip


def test_six_bots_one_sloppy_label_a_job_through_http(tmp_path):
    with running_service(tmp_path, images=0, job=None) as service:
        records, truth = synth_images(service.images, photos=5, size=SIZE, seed=11)
        gold, gold_truth = synth_images(service.images, photos=3, size=SIZE, seed=12)
        with service.db.session() as session:
            assert add_gold(session, gold_records(gold, gold_truth)[:6]) == 6
            spec = jobs.JobSpec.build(name="tags-bots", classes=["scratch"], annotators_per_image=3, gold_every=3)
            jobs.create_job(session, spec, records)
        assert len(records) == 20

        accounts = bots.bot_accounts(service.db, count=6, sloppy=1)
        assert [a.noise for a in accounts].count(bots.SLOPPY) == 1
        run = bots.label_job(service.url, "tags-bots", accounts, SynthTruth(service.images), seed=5)

        with service.db.session() as session:
            progress = jobs.summary(session, jobs.get_job(session, "tags-bots"))
            scores = accuracy(session)
        assert (progress.labeling, progress.verifying) == (0, 20), progress
        assert run.tasks >= 60 and sum(run.submitted.values()) == run.tasks
        sloppy, careful = accounts[-1].username, [a.username for a in accounts[:-1]]
        assert scores[sloppy].flagged, scores[sloppy]
        assert scores[sloppy].gold_items >= 3
        assert not any(scores[name].flagged for name in careful), scores

        review = service.api("vera").get("/api/v1/jobs/tags-bots/review", params={"limit": 100}).json()
        assert len(review) == 20
        consolidated = {i["image_sha256"]: [_box(c["box"]) for c in i["boxes"]] for i in review}
        per_annotator: dict[str, dict] = {}
        majority = {}
        for item in review:
            annotations = {name: [_box(b) for b in boxes] for name, boxes in item["annotations"].items()}
            for name, boxes in annotations.items():
                per_annotator.setdefault(name, {})[item["image_sha256"]] = boxes
            equal = consolidate(annotations, {name: 1.0 for name in annotations}, quorum=2)
            majority[item["image_sha256"]] = [c.box for c in equal.boxes]
        ours = quality(consolidated, truth)
        voted = quality(majority, truth)
        singles = {name: quality(boxes, truth) for name, boxes in per_annotator.items()}
        print(
            f"\nbots: {run.tasks} tasks in {run.seconds:.1f} s ({run.tasks_per_second:.1f}/s), "
            f"{run.conflicts} lease conflicts"
            f"\nconsolidated (reliability-weighted): F1 {ours.f1:.3f}, mean IoU {ours.mean_iou:.3f}"
            f"\nplain majority vote: F1 {voted.f1:.3f}, mean IoU {voted.mean_iou:.3f}"
        )
        for name, q in sorted(singles.items()):
            print(f"  {name}: {q.images} images, F1 {q.f1:.3f}, mean IoU {q.mean_iou:.3f}, gold {scores[name].mean_f1}")
        assert ours.f1 > singles[sloppy].f1 + 0.2
        assert ours.f1 >= 0.85 and ours.mean_iou >= 0.8
        assert ours.f1 >= sum(q.f1 for q in singles.values()) / len(singles)


@pytest.mark.parametrize("max_wait", [30.0, 0.0])
def test_bots_wait_for_a_lease_that_runs_out_instead_of_leaving_its_image_short(tmp_path, max_wait):
    lease = 2.0 if max_wait else 60.0  # without waiting, a long lease shows what a stopped bot leaves behind
    with running_service(tmp_path, images=0, job=None) as service:
        records = ingest_images(service.images, 3)
        service.create_job("tags-wait", records, annotators_per_image=2, lease_seconds=lease)
        stalled = service.api("alice").post("/api/v1/jobs/tags-wait/tasks/next").json()  # never submitted
        accounts = bots.bot_accounts(service.db, count=2, sloppy=0)
        run = bots.label_job(service.url, "tags-wait", accounts, {}, seed=1, max_wait=max_wait)

        with service.db.session() as session:
            counts = Counter(session.scalars(select(Task.image_sha256).join(Annotation, Annotation.task_id == Task.id)))
            progress = jobs.summary(session, jobs.get_job(session, "tags-wait"))
        if max_wait:
            assert run.waits >= 1 and run.tasks == 6, run
            assert counts == {r.sha256: 2 for r in records}
            assert (progress.labeling, progress.verifying) == (0, 3)
        else:
            assert run.waits == 0 and run.tasks == 5, run
            assert counts[stalled["image_sha256"]] == 1 and progress.labeling == 1


def _box(data):
    from qiloop.core.records import Box

    return Box(**{**data, "score": None})
