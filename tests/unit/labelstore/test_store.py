"""The label store on a local folder: append, idempotency, point-in-time reads, snapshots."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest

from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.core.records import Box, LabelRecord, LabelSource, LabelStatus
from qiloop.labelstore import LabelStore
from qiloop.settings import Settings

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
SHA = {name: (name * 64)[:64] for name in "abcdef"}


def record(image: str = "a", hours: float = 0, status: LabelStatus = LabelStatus.APPROVED, **over) -> LabelRecord:
    fields = dict(
        image_uri=f"images/{image}.jpg",
        image_sha256=SHA[image],
        image_width=450,
        image_height=300,
        image_depth=3,
        event_time=T0 + timedelta(hours=hours),
        status=status,
        annotations=(Box(class_id=0, left=10, top=10, width=20, height=20),),
    )
    return LabelRecord(**(fields | over))


@pytest.fixture
def store(tmp_path) -> LabelStore:
    return LabelStore.from_url(str(tmp_path / "labels"))


def written(store: LabelStore, record: LabelRecord) -> LabelRecord:
    """``record`` as the store holds it (with its write_time)."""
    (found,) = store.records([record.record_id])
    return found


def ids(records) -> set[str]:
    return {r.record_id for r in records}


def test_empty_store_reads_as_empty(store):
    assert store.version() is None
    assert store.latest() == [] and store.latest(status=None) == []
    assert store.latest_table().num_rows == 0
    assert store.history(SHA["a"]) == []
    assert store.versions() == []
    assert store.labeled_sha256s() == set()
    assert store.stats()["records"] == 0 and store.stats()["version"] is None
    assert store.compact() == {}
    with pytest.raises(NotFoundError):
        store.snapshot()
    with pytest.raises(NotFoundError):
        store.latest(as_of=0)


def test_append_then_same_batch_again_writes_nothing(store):
    batch = [record("a"), record("b"), record("c", annotations=())]
    first = store.append(batch)
    assert (first.written, first.skipped, first.errors) == (3, 0, ())
    assert first.version == store.version() == 1  # version 0 is the table's creation
    again = store.append(batch)
    assert (again.version, again.written, again.skipped) == (None, 0, 3)
    assert store.stats()["records"] == 3
    partly = store.append([record("a"), record("d")])
    assert (partly.written, partly.skipped, partly.version) == (1, 1, 2)


def test_duplicates_within_a_batch_are_written_once(store):
    r = record("a")
    result = store.append([r, r, record("b"), r])
    assert (result.written, result.skipped) == (2, 2)
    assert len(store.history(SHA["a"])) == 1


def test_items_that_are_not_records_are_reported_and_the_rest_written(store):
    result = store.append([record("a"), {"image_uri": "x"}, record("b")])
    assert result.written == 2
    assert len(result.errors) == 1 and result.errors[0].startswith("item 1")


def test_write_time_is_one_stamp_per_append(store):
    before = datetime.now(timezone.utc)
    result = store.append([record("a"), record("b")])
    stamps = {written(store, r).write_time for r in (record("a"), record("b"))}
    assert stamps == {result.write_time} and result.write_time >= before


def test_round_trip_through_the_store(store):
    originals = [
        record("a", annotators=("ann1", "ann2"), agreement=0.75, verifier="ver", source=LabelSource.HUMAN),
        record("b", annotations=(Box(class_id=1, left=0, top=0, width=450, height=300, score=0.25),), labeling_job="j"),
        record("c", annotations=(), status=LabelStatus.PENDING_VERIFICATION, source=LabelSource.MODEL),
    ]
    result = store.append(originals)
    back = store.latest(status=None)
    assert back == sorted(
        (r.model_copy(update={"write_time": result.write_time}) for r in originals), key=lambda r: r.image_sha256
    )


def test_later_rejection_hides_the_older_approval_but_time_travel_shows_it(store):
    v_import = store.append([record("a", 0), record("b", 0)]).version
    time.sleep(0.002)
    between = datetime.now(timezone.utc)
    fix = store.append([record("a", 5, LabelStatus.REJECTED), record("b", 5, annotations=())])
    assert ids(store.latest()) == {record("b", 5, annotations=()).record_id}
    assert ids(store.latest(status=None)) == ids([record("a", 5, LabelStatus.REJECTED), record("b", 5, annotations=())])
    assert ids(store.latest(as_of=v_import)) == ids([record("a", 0), record("b", 0)])
    assert ids(store.latest(as_of=between)) == ids([record("a", 0), record("b", 0)])
    assert ids(store.latest(as_of=fix.write_time)) == {record("b", 5, annotations=()).record_id}
    assert ids(store.latest(status="rejected")) == {record("a", 5, LabelStatus.REJECTED).record_id}


def test_as_of_datetime_ignores_events_after_that_moment(store):
    store.append([record("a", 0), record("a", 48)])  # the second speaks of a later moment
    later = datetime.now(timezone.utc)
    assert ids(store.latest(as_of=later)) == {record("a", 48).record_id}
    future = later + timedelta(days=365 * 10)
    assert ids(store.latest(as_of=future)) == {record("a", 48).record_id}
    assert ids(store.latest(as_of=T0 + timedelta(hours=1))) == set()  # written after that moment


def test_naive_as_of_is_utc(store):
    store.append([record("a")])
    now_naive = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=1)
    assert len(store.latest(as_of=now_naive)) == 1


def test_equal_event_times_break_ties_by_write_time(store):
    store.append([record("a", 1, LabelStatus.REJECTED)])
    store.append([record("a", 1, LabelStatus.APPROVED)])
    assert ids(store.latest()) == {record("a", 1).record_id}


@pytest.mark.parametrize("bad", ["yesterday", 1.5, True, [1]])
def test_unusable_as_of_is_refused(store, bad):
    store.append([record("a")])
    with pytest.raises(ConfigurationError):
        store.latest(as_of=bad)


def test_missing_version_and_unknown_status(store):
    store.append([record("a")])
    with pytest.raises(NotFoundError, match="version 7"):
        store.latest(as_of=7)
    with pytest.raises(NotFoundError):
        store.latest(as_of=-1)
    with pytest.raises(ConfigurationError, match="status"):
        store.latest(status="DONE")


def test_history_by_sha_or_uri_in_event_order(store):
    late, early = record("a", 9, LabelStatus.REJECTED), record("a", 1)
    store.append([late, record("b")])
    store.append([early, record("a", 5, verifier="v")])
    by_sha = store.history(SHA["a"])
    assert [r.event_time for r in by_sha] == [T0 + timedelta(hours=h) for h in (1, 5, 9)]
    assert store.history("images/a.jpg") == by_sha
    assert store.history("unknown") == []


def test_versions_list_every_commit(store):
    store.append([record("a"), record("b")])
    store.append([record("c")])
    store.append([record("c")])  # nothing new: no version
    versions = store.versions()
    assert [v.version for v in versions] == [0, 1, 2]
    assert [v.rows_added for v in versions] == [0, 2, 1]
    assert versions[1].operation == "WRITE"
    assert all(v.timestamp.tzinfo is not None for v in versions)
    assert versions[0].timestamp <= versions[1].timestamp <= versions[2].timestamp


def test_snapshot_is_reproducible_after_more_appends(store):
    store.append([record("a"), record("b"), record("c", status=LabelStatus.REJECTED)])
    snap = store.snapshot()
    assert snap.label_store_version == 1 and snap.as_of is None
    assert list(snap.record_ids) == sorted(ids([record("a"), record("b")]))
    store.append([record("a", 3, LabelStatus.REJECTED), record("d")])
    assert store.snapshot(as_of=snap.label_store_version).record_ids == snap.record_ids
    assert store.snapshot(as_of=snap.label_store_version).fingerprint == snap.fingerprint
    assert store.snapshot().record_ids != snap.record_ids
    again = store.records(snap.record_ids, version=snap.label_store_version)
    assert [r.record_id for r in again] == list(snap.record_ids)
    assert {r.image_sha256 for r in again} == {SHA["a"], SHA["b"]}


def test_snapshot_as_of_datetime_records_the_moment(store):
    store.append([record("a")])
    moment = datetime.now(timezone.utc)
    store.append([record("b")])
    snap = store.snapshot(as_of=moment)
    assert snap.as_of == moment and snap.label_store_version == 2
    assert snap.record_ids == (record("a").record_id,)


def test_records_missing_ids_are_an_error(store):
    store.append([record("a")])
    with pytest.raises(NotFoundError, match="1 record id"):
        store.records([record("a").record_id, "nope"])
    later = store.append([record("b")]).version
    with pytest.raises(NotFoundError):
        store.records([record("b").record_id], version=later - 1)


def test_labeled_sha256s_and_stats(store):
    store.append(
        [record("a", labeling_job="j1"), record("b", labeling_job="j1"), record("c", status=LabelStatus.REJECTED)]
    )
    store.append([record("b", 2, LabelStatus.REJECTED, labeling_job="j2"), record("d", annotations=())])
    assert store.labeled_sha256s() == {SHA["a"], SHA["d"]}
    assert store.labeled_sha256s(status=LabelStatus.REJECTED) == {SHA["b"], SHA["c"]}
    assert store.labeled_sha256s(status=None) == {SHA[x] for x in "abcd"}
    stats = store.stats()
    assert stats == {
        "records": 5,
        "images": 4,
        "latest_status": {"APPROVED": 2, "REJECTED": 2},
        "boxes": 1,
        "versions": 3,
        "version": 2,
        "jobs": {"": 2, "j1": 2, "j2": 1},
    }


def test_compact_keeps_data_and_every_version(store):
    for i in range(6):
        store.append([record("a", i), record("b", i, LabelStatus.REJECTED if i % 2 else LabelStatus.APPROVED)])
    before = {v: ids(store.latest(as_of=v, status=None)) for v in range(1, 7)}
    latest_before = store.latest(status=None)
    metrics = store.compact()
    assert metrics["numFilesRemoved"] == 6 and metrics["numFilesAdded"] == 1
    assert store.versions()[-1].operation == "OPTIMIZE" and store.versions()[-1].rows_added == 0
    assert store.latest(status=None) == latest_before
    assert {v: ids(store.latest(as_of=v, status=None)) for v in range(1, 7)} == before
    assert store.stats()["records"] == 12
    assert store.append([record("c")]).written == 1


def test_append_table_is_the_same_as_append(store, tmp_path):
    originals = [record("a", annotators=("x",), agreement=0.5), record("b", annotations=())]
    rows = pa.Table.from_pylist(
        [r.model_dump(mode="python") | {"status": r.status.value, "source": r.source.value} for r in originals]
    )
    bad = pa.Table.from_pylist(
        [
            {
                "record_id": "",
                "image_uri": "z",
                "image_sha256": SHA["c"],
                "image_width": 1,
                "image_height": 1,
                "image_depth": 3,
                "event_time": T0,
            }
        ]
    )
    result = store.append_table(
        pa.concat_tables([rows.select(bad.column_names), bad.cast(rows.select(bad.column_names).schema)])
    )
    assert result.written == 2 and len(result.errors) == 1 and "record_id is empty" in result.errors[0]
    other = LabelStore.from_url(str(tmp_path / "other"))
    other_result = other.append(originals)
    got = {r.record_id: r.model_copy(update={"write_time": None}) for r in store.latest(status=None)}
    want = {r.record_id: r.model_copy(update={"write_time": None}) for r in other.latest(status=None)}
    assert got.keys() == want.keys() == ids(originals)
    assert other_result.written == 2
    full = store.append_table(rows)
    assert (full.written, full.skipped) == (0, 2)


def test_from_settings_uses_the_label_store_url(tmp_path):
    store = LabelStore.from_settings(Settings(home=tmp_path / "home"))
    assert store.url == str((tmp_path / "home" / "labels").resolve())
    assert store.storage_options == {}
    store.append([record("a")])
    assert (tmp_path / "home" / "labels" / "_delta_log").is_dir()


def test_latest_table_reads_only_the_columns_asked(store):
    store.append([record("a"), record("b", status=LabelStatus.REJECTED)])
    table = store.latest_table(columns=["image_sha256", "status"])
    assert table.column_names == ["image_sha256", "status"]
    assert table.to_pylist() == [{"image_sha256": SHA["a"], "status": "APPROVED"}]
    with pytest.raises(ConfigurationError, match="unknown label store column"):
        store.latest_table(columns=["image_sha256", "colour"])
    assert store.records([]) == []
