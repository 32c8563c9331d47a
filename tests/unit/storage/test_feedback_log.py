"""The image store's feedback area: a Delta table of why devices sent images back."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from qiloop.core.errors import InvalidRecordError
from qiloop.core.records import Box
from qiloop.storage.feedback import FeedbackEntry, FeedbackLog
from qiloop.storage.image_store import ImageStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def entry(device: str, sequence: int, *, sha: str = "", minutes: int = 0, **fields) -> FeedbackEntry:
    return FeedbackEntry(
        image_sha256=sha or hashlib.sha256(f"{device}{sequence}".encode()).hexdigest(),
        image_name=f"{device}-{sequence}.png",
        device_id=device,
        sequence=sequence,
        reason=fields.pop("reason", "uncertain"),
        model_name="scratch-detector",
        model_version="3",
        prelabels=fields.pop("prelabels", []),
        sent_at=T0 + timedelta(minutes=minutes),
        received_at=T0 + timedelta(minutes=minutes, seconds=1),
        **fields,
    )


def test_entries_round_trip_with_their_prelabels(tmp_path):
    boxes = [
        Box(class_id=0, left=1.5, top=2, width=10, height=4.25, score=0.41),
        Box(class_id=1, left=0, top=0, width=3, height=3),
    ]
    log = FeedbackLog.open(str(tmp_path / "_feedback"), {})
    log.append([entry("cam-1", 7, prelabels=boxes), entry("cam-2", 1, minutes=1, reason="sample")])

    reopened = FeedbackLog.open(str(tmp_path / "_feedback"), {})
    got = reopened.list()
    assert [(e.device_id, e.sequence, e.reason) for e in got] == [("cam-1", 7, "uncertain"), ("cam-2", 1, "sample")]
    assert got[0].prelabels == boxes and got[1].prelabels == []
    assert got[0].sent_at == T0 and got[0].model_version == "3"


def test_list_filters_by_device_and_for_image_finds_every_sending(tmp_path):
    sha = "ab" * 32
    log = FeedbackLog.open(str(tmp_path / "fb"), {})
    log.append([entry("cam-1", 1, sha=sha), entry("cam-2", 4, minutes=2)])
    log.append([entry("cam-2", 9, sha=sha, minutes=3)])
    assert [e.sequence for e in log.list(device="cam-2")] == [4, 9]
    assert log.list(device="cam-9") == []
    assert [(e.device_id, e.sequence) for e in log.for_image(sha)] == [("cam-1", 1), ("cam-2", 9)]
    assert log.for_image("cd" * 32) == []


def test_a_message_appended_twice_reads_as_one(tmp_path):
    log = FeedbackLog.open(str(tmp_path / "fb"), {})
    first = entry("cam-1", 3)
    log.append([first])
    log.append([entry("cam-1", 3, minutes=5, reason="sample")])  # a re-delivery after a crash
    assert log.list() == [first] and len(log) == 1


def test_an_entry_validates_its_fields():
    with pytest.raises(InvalidRecordError):
        Box(class_id=0, left=0, top=0, width=0, height=1)
    with pytest.raises(ValueError, match="image_sha256"):
        entry("cam-1", 1, sha="not-a-sha")


def test_the_image_store_exposes_its_feedback_area_beside_the_index(tmp_path):
    store = ImageStore.from_url(str(tmp_path / "images"))
    assert store.feedback.list() == []
    store.feedback.append([entry("cam-1", 1)])
    assert (tmp_path / "images" / "_feedback" / "_delta_log").is_dir()
    assert [e.sequence for e in ImageStore.from_url(str(tmp_path / "images")).feedback.list()] == [1]
