"""Ingesting camera files, and publishing approvals the label store lacks."""

from __future__ import annotations

from labeling_helpers import png
from qiloop.loop.ingest import ingest_images
from qiloop.loop.publish import publish_approved_labels


def test_camera_files_are_added_once_and_refused_files_are_named(home, tmp_path):
    camera = tmp_path / "camera"
    camera.mkdir()
    for i in range(3):
        (camera / f"shot-{i}.png").write_bytes(png(i))
    (camera / "notes.png").write_text("not an image")

    first = ingest_images(home.images, [camera], source="camera:line-1")
    (camera / "shot-3.png").write_bytes(png(3))
    second = ingest_images(home.images, [camera], source="camera:line-1")

    assert len(first.added) == 3 and first.duplicates == 0 and first.images_in_store == 3
    assert len(first.rejected) == 1 and "notes.png" in first.rejected[0]
    assert len(second.added) == 1 and second.duplicates == 3 and second.images_in_store == 4
    assert home.images.get(second.added[0]).source == "camera:line-1"
    assert first.metadata()["added"] == 3 and first.metadata()["rejected"] == 1


def test_an_approval_the_label_store_missed_is_published_once(home, tmp_path):
    import pytest

    from labeling_helpers import add_users, ingest_images
    from qiloop.core.errors import StoreError
    from qiloop.core.records import Box
    from qiloop.labeling import tasks, verification
    from qiloop.labelstore import LabelStore
    from qiloop.loop.labeling_job import open_labeling_job

    (record,) = ingest_images(home.images, 1)
    open_labeling_job(home.db, home.images, home.labels, classes=["scratch"], name="job-1", annotators=1)
    add_users(home.db, "ann")
    add_users(home.db, "vera", role="verifier")
    task = tasks.next_task(home.db, "job-1", "ann")
    tasks.submit(home.db, task.id, "ann", [Box(class_id=0, left=4, top=4, width=20, height=10)])
    (item,) = verification.review_queue(home.db, "job-1")
    (tmp_path / "not-a-folder").write_text("")
    with pytest.raises(StoreError):  # the decision is committed, its label-store write failed
        verification.approve(home.db, LabelStore.from_url(str(tmp_path / "not-a-folder" / "labels")), item.item_id,
                             "vera")  # fmt: skip
    assert home.labels.latest() == []

    published = publish_approved_labels(home.db, home.labels)
    again = publish_approved_labels(home.db, home.labels)

    assert (published.appended, published.approved_images) == (1, 1)
    assert published.label_store_version == home.labels.version() is not None
    (stored,) = home.labels.latest()
    assert (stored.image_sha256, stored.verifier, stored.labeling_job) == (record.sha256, "vera", "job-1")
    assert (again.appended, again.approved_images, again.label_store_version) == (0, 1, published.label_store_version)
