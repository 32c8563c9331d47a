"""The latest-per-image query on plain frames: ranking, ties, copies, collisions, as-of."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from qiloop.labelstore import query

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def frame(*rows) -> pl.DataFrame:
    """Rows as (record_id, image, event hour, write hour, status)."""
    return pl.DataFrame(
        {
            "record_id": [r[0] for r in rows],
            "image_sha256": [r[1] * 64 for r in rows],
            "event_time": [at(r[2]) for r in rows],
            "write_time": [at(r[3]) for r in rows],
            "status": [r[4] for r in rows],
        },
        schema_overrides={"event_time": pl.Datetime("us", "UTC"), "write_time": pl.Datetime("us", "UTC")},
    )


OK, NO, WAIT = "APPROVED", "REJECTED", "PENDING_VERIFICATION"

CASES = [
    # name, rows, status, expected record ids
    ("one record", [("a", "1", 0, 1, OK)], OK, {"a"}),
    ("later event wins", [("a", "1", 0, 1, OK), ("b", "1", 5, 6, OK)], OK, {"b"}),
    ("later event wins even if written first", [("a", "1", 5, 1, OK), ("b", "1", 0, 6, OK)], OK, {"a"}),
    ("later REJECTED hides older APPROVED", [("a", "1", 0, 1, OK), ("b", "1", 5, 6, NO)], OK, set()),
    ("status None keeps the REJECTED", [("a", "1", 0, 1, OK), ("b", "1", 5, 6, NO)], None, {"b"}),
    ("pending is not approved", [("a", "1", 0, 1, WAIT)], OK, set()),
    ("ask for rejected", [("a", "1", 0, 1, OK), ("b", "2", 0, 1, NO)], NO, {"b"}),
    ("images independent", [("a", "1", 0, 1, OK), ("b", "2", 9, 9, OK), ("c", "3", 1, 2, NO)], OK, {"a", "b"}),
    ("tie on event: later write wins", [("b", "1", 3, 4, OK), ("a", "1", 3, 5, NO)], None, {"a"}),
    ("tie on event and write: larger id wins", [("a", "1", 3, 4, NO), ("b", "1", 3, 4, OK)], None, {"b"}),
    ("tie order does not depend on row order", [("b", "1", 3, 4, OK), ("a", "1", 3, 4, NO)], None, {"b"}),
    # a record stored twice (racing retries) counts at its first write: b (written at 5) beats a (first at 4)
    (
        "copies count at their first write",
        [("a", "1", 3, 4, OK), ("b", "1", 3, 5, NO), ("a", "1", 3, 6, OK)],
        None,
        {"b"},
    ),
    ("copies alone give one row", [("a", "1", 3, 4, OK), ("a", "1", 3, 6, OK)], OK, {"a"}),
]


@pytest.mark.parametrize(("name", "rows", "status", "expected"), CASES, ids=[c[0] for c in CASES])
def test_latest(name, rows, status, expected):
    out = query.latest(frame(*rows), status)
    assert set(out["record_id"]) == expected
    assert out.height == len(expected)  # one row per image, copies included


@pytest.mark.parametrize(("name", "rows", "status", "expected"), CASES, ids=[c[0] for c in CASES])
def test_latest_with_colliding_image_keys_is_still_exact(name, rows, status, expected):
    everyone_collides = pl.col("image_sha256").str.len_bytes().cast(pl.UInt64)
    out = query.latest(frame(*rows), status, key=everyone_collides)
    assert set(out["record_id"]) == expected


def test_copy_keeps_its_first_write_time():
    out = query.latest(frame(("a", "1", 3, 6, OK), ("a", "1", 3, 4, OK)), OK)
    assert out["write_time"].to_list() == [at(4)]


def test_known_at_is_what_the_store_knew_about_that_moment():
    rows = frame(("a", "1", 0, 1, OK), ("fix", "1", 5, 6, NO), ("future", "2", 10, 2, OK))
    before_fix = query.latest(rows.filter(query.known_at(at(3))), OK)
    assert set(before_fix["record_id"]) == {"a"}  # "future" is about a later moment
    after = query.latest(rows.filter(query.known_at(at(11))), None)
    assert set(after["record_id"]) == {"fix", "future"}


def test_empty_frame():
    empty = frame(("a", "1", 0, 1, OK)).clear()
    assert query.latest(empty).height == 0


def test_history_order_and_dedupe():
    rows = frame(("c", "1", 5, 6, OK), ("a", "1", 1, 9, OK), ("b", "1", 1, 2, NO), ("c", "1", 5, 8, OK))
    out = query.order_history(rows)
    assert out["record_id"].to_list() == ["b", "a", "c"]
    assert out.filter(pl.col("record_id") == "c")["write_time"].to_list() == [at(6)]


def test_many_images_against_a_plain_reference():
    import random

    rng = random.Random(4)
    rows = [
        (f"r{i}", rng.choice("0123456789abcdef"), rng.randint(0, 5), rng.randint(0, 5), rng.choice([OK, NO, WAIT]))
        for i in range(400)
    ]
    best: dict[str, tuple] = {}
    for r in rows:
        key = (r[2], r[3], r[0])
        if r[1] not in best or key > best[r[1]][0]:
            best[r[1]] = (key, r)
    expected = {r[0] for _, r in best.values() if r[4] == OK}
    assert set(query.latest(frame(*rows), OK)["record_id"]) == expected
