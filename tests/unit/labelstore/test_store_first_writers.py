"""Writers that all find no table yet: the creators race for version 0, and every record still lands once."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timezone

from qiloop.core.records import Box, LabelRecord
from qiloop.labelstore import LabelStore


def record(writer: int) -> LabelRecord:
    return LabelRecord(
        image_uri=f"w{writer}.jpg",
        image_sha256=hashlib.sha256(str(writer).encode()).hexdigest(),
        image_width=100,
        image_height=100,
        image_depth=3,
        annotations=(Box(class_id=0, left=1, top=1, width=5, height=5),),
        event_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
    )


def race(url: str, writers: int) -> list[Exception]:
    """``writers`` threads append one record each to ``url`` at the same moment; the errors they met."""
    start, errors = threading.Barrier(writers), []

    def write(writer: int) -> None:
        store = LabelStore.from_url(url)
        start.wait()
        try:
            store.append([record(writer)])
        except Exception as exc:  # surfaced by the caller's assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_writers_racing_to_create_the_table_all_land(tmp_path):
    # A creator that loses the race for version 0 gets deltalake's CommitFailedError; the append retries it.
    for round_ in range(30):  # the race is not lost every time: several rounds make it likely
        url = str(tmp_path / f"labels-{round_}")
        assert race(url, 8) == []
        assert sorted(r.image_uri for r in LabelStore.from_url(url).latest()) == [f"w{w}.jpg" for w in range(8)]
