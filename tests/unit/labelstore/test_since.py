"""Labels approved after a cursor, and the label store's upkeep that keeps every version readable."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from qiloop.core.records import Box, LabelRecord, LabelStatus
from qiloop.labelstore import LabelStore
from qiloop.labelstore.since import approved_since
from qiloop.labelstore.upkeep import upkeep

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)


def record(n: int, status=LabelStatus.APPROVED, hours: float = 0) -> LabelRecord:
    return LabelRecord(
        image_uri=f"images/{n}.jpg", image_sha256=f"{n:064x}", image_width=64, image_height=48, image_depth=3,
        event_time=T0 + timedelta(hours=hours), status=status,
        annotations=(Box(class_id=0, left=1, top=1, width=5, height=5),),
    )  # fmt: skip


def test_approved_since_counts_images_approved_after_the_cursor(tmp_path):
    store = LabelStore.from_url(str(tmp_path / "labels"))
    assert approved_since(store, None).images == 0
    store.append([record(1), record(2), record(3, LabelStatus.REJECTED)])
    first = approved_since(store, None)
    assert (first.images, first.records) == (2, 3)
    store.append([record(4), record(1, hours=1)])  # a correction of image 1 counts again
    later = approved_since(store, first.newest)
    # Read: the new file, and the one holding the cursor's own row (statistics are kept to the millisecond).
    assert later.images == 2 and later.files_read == 2 and later.version == store.version()
    assert approved_since(store, later.newest).images == 0


def test_upkeep_compacts_without_losing_any_version(tmp_path):
    store = LabelStore.from_url(str(tmp_path / "labels"))
    assert upkeep(store) is None
    versions = [store.append([record(n)]).version for n in range(4)]
    before = {v: [r.record_id for r in store.latest(as_of=v)] for v in versions}
    done = upkeep(store)
    assert done.files_before == 4 and done.files_after == 1 and done.files_vacuumed == 0
    assert {v: [r.record_id for r in store.latest(as_of=v)] for v in versions} == before
