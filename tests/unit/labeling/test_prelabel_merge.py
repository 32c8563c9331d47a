"""Merging near-duplicate pre-labels before a labeller sees them: tables for thin scratches, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qiloop.core.records import Box
from qiloop.labeling.prelabel import merge_near_duplicates


def box(x1: float, y1: float, x2: float, y2: float, score: float | None = 0.5, class_id: int = 0) -> Box:
    return Box.from_xyxy(x1, y1, x2, y2, class_id=class_id, score=score)


def merged(boxes: list[Box]) -> list[tuple[tuple[float, ...], float | None, int]]:
    return [(m.box.xyxy, m.box.score, m.merged) for m in merge_near_duplicates(boxes)]


@pytest.mark.parametrize(
    ("boxes", "expected"),
    [
        ([], []),
        # a diagonal scratch, its two halves and a jittered copy: one box around them, the best score
        (
            [box(0, 0, 100, 100, 0.5), box(0, 0, 52, 52, 0.9), box(48, 48, 100, 100, 0.7), box(2, 1, 101, 99, 0.4)],
            [((0.0, 0.0, 101.0, 100.0), 0.9, 4)],
        ),
        # a thin horizontal scratch reported three times, a pixel or two apart (IoU as low as 0.3)
        (
            [box(10, 50, 200, 54, 0.6), box(12, 52, 201, 56, 0.8), box(9, 49, 199, 53, 0.3)],
            [((9.0, 49.0, 201.0, 56.0), 0.8, 3)],
        ),
        # two scratches far apart stay two; the better one first
        (
            [box(10, 10, 60, 14, 0.4), box(200, 200, 260, 203, 0.9)],
            [((200.0, 200.0, 260.0, 203.0), 0.9, 1), ((10.0, 10.0, 60.0, 14.0), 0.4, 1)],
        ),
        # two parallel scratches 8 px apart stay two
        (
            [box(0, 0, 100, 4, 0.9), box(0, 12, 100, 16, 0.8)],
            [((0.0, 0.0, 100.0, 4.0), 0.9, 1), ((0.0, 12.0, 100.0, 16.0), 0.8, 1)],
        ),
        # unscored pre-labels (e.g. imported) count as certain and keep no score
        ([box(0, 0, 50, 50, None), box(1, 1, 50, 50, 0.7)], [((0.0, 0.0, 50.0, 50.0), None, 2)]),
    ],
)
def test_merge_table(boxes, expected):
    got = merged(boxes)
    assert [(pytest.approx(xyxy), score, count) for xyxy, score, count in expected] == got


def test_classes_never_merge():
    out = merge_near_duplicates([box(0, 0, 50, 50, 0.9, class_id=0), box(0, 0, 50, 50, 0.8, class_id=1)])
    assert [m.box.class_id for m in out] == [0, 1] and [m.merged for m in out] == [1, 1]


def test_sixteen_pre_labels_of_two_scratches_become_two():
    # Two long thin scratches, each reported as eight overlapping pieces and copies, as a detector does.
    first = [box(20 + 10 * k, 30 + k % 2, 220 + 5 * k, 36 + k % 2, 0.3 + 0.05 * k) for k in range(8)]
    second = [box(40 + 3 * k, 150 + 2 * (k % 3), 60 + 3 * k, 330 - k, 0.35 + 0.04 * k) for k in range(8)]
    out = merge_near_duplicates(first + second)
    assert len(out) == 2 and sorted(m.merged for m in out) == [8, 8]


coordinate = st.integers(min_value=0, max_value=300)
extent = st.integers(min_value=1, max_value=120)
boxes_st = st.lists(
    st.builds(
        lambda x, y, w, h, s, c: Box(class_id=c, left=x, top=y, width=w, height=h, score=s),
        coordinate, coordinate, extent, extent, st.floats(0.01, 1.0), st.integers(0, 1),
    ),
    max_size=12,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(boxes_st)
def test_every_box_lies_inside_a_merged_box_of_its_class_and_is_counted_once(boxes):
    out = merge_near_duplicates(boxes)
    assert sum(m.merged for m in out) == len(boxes)
    assert [m.box.score for m in out] == sorted((m.box.score for m in out), reverse=True)
    for b in boxes:
        around = [m for m in out if m.box.class_id == b.class_id and m.box.left <= b.left and m.box.top <= b.top
                  and b.right <= m.box.right + 1e-9 and b.bottom <= m.box.bottom + 1e-9]  # fmt: skip
        assert around, b
