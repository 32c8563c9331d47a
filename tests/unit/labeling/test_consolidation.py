"""Consolidation of several annotators' boxes: tables for the rules, properties for the invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qiloop.core.errors import ConfigurationError, InvalidRecordError
from qiloop.core.records import Box
from qiloop.labeling.consolidation import (
    agreement,
    cluster,
    consolidate,
    intersection_over_smaller,
    majority_quorum,
    near_duplicates,
)
from qiloop.labeling.overlap import f1, match_pairs


def box(x1: float, y1: float, x2: float, y2: float, class_id: int = 0) -> Box:
    return Box.from_xyxy(x1, y1, x2, y2, class_id=class_id)


A = box(10, 10, 50, 20)  # a long thin scratch
A_DENT = box(10, 10, 50, 20, class_id=1)
B = box(100, 100, 120, 160)
SPURIOUS = box(200, 5, 230, 15)


def corners(result) -> list[tuple[float, ...]]:
    return [tuple(round(v, 6) for v in c.box.xyxy) for c in result.boxes]


@pytest.mark.parametrize(("n", "quorum"), [(1, 1), (2, 1), (3, 2), (4, 3), (5, 3)])
def test_majority_quorum(n, quorum):
    assert majority_quorum(n) == quorum


@pytest.mark.parametrize(
    ("annotations", "expected_boxes", "expected_annotators", "expected_agreement"),
    [
        # everyone agrees
        ({"a": [A, B], "b": [A, B], "c": [A, B]}, [A, B], [("a", "b", "c")] * 2, 1.0),
        # one annotator's extra box is below the quorum of 2 and is dropped
        ({"a": [A, B, SPURIOUS], "b": [A, B], "c": [A, B]}, [A, B], [("a", "b", "c")] * 2, (0.8 + 0.8 + 1) / 3),
        # one annotator missed B: 2 of 3 still reach the quorum
        ({"a": [A, B], "b": [A], "c": [A, B]}, [A, B], [("a", "b", "c"), ("a", "c")], (2 / 3 + 1 + 2 / 3) / 3),
        # nobody marked anything: an empty label with full agreement
        ({"a": [], "b": [], "c": []}, [], [], 1.0),
        # only one of three marked a box
        ({"a": [A], "b": [], "c": []}, [], [], 1 / 3),
        # same place, different classes: never one cluster; of two annotators, every box is kept
        (
            {"a": [A], "b": [box(10, 10, 50, 20, class_id=1)]},
            [A, box(10, 10, 50, 20, class_id=1)],
            [("a",), ("b",)],
            0.0,
        ),
        # two annotators who disagree: the verifier sees every box of either
        ({"a": [A, SPURIOUS], "b": [A, B]}, [SPURIOUS, A, B], [("a",), ("a", "b"), ("b",)], 0.5),
    ],
)
def test_consolidation_table(annotations, expected_boxes, expected_annotators, expected_agreement):
    result = consolidate(annotations)
    assert corners(result) == [tuple(float(v) for v in b.xyxy) for b in expected_boxes]
    assert [c.annotators for c in result.boxes] == expected_annotators
    assert result.agreement == pytest.approx(expected_agreement)


def test_spurious_box_counts_as_dropped_and_explicit_quorum_can_keep_it():
    annotations = {"a": [A, SPURIOUS], "b": [A], "c": [A]}
    assert consolidate(annotations).dropped == 1
    kept = consolidate(annotations, quorum=1)
    assert len(kept.boxes) == 2 and kept.dropped == 0
    spurious = next(c for c in kept.boxes if c.annotators == ("a",))
    assert spurious.support == pytest.approx(1 / 3)


def test_two_annotators_keep_every_box_of_either_whatever_their_reliability():
    annotations = {"new": [A, SPURIOUS], "old": [B]}
    for weights in (None, {"new": 0.05, "old": 1.0}, {"new": 1.0, "old": 0.0}):
        result = consolidate(annotations, weights, min_support=0.4)
        assert sorted(c.annotators for c in result.boxes) == [("new",), ("new",), ("old",)]
        assert result.dropped == 0
    # a job that asks for both annotators still gets it
    assert consolidate(annotations, quorum=2).boxes == ()


def test_boxes_of_one_scratch_too_different_to_cluster_are_named_as_near_duplicates():
    whole, half = box(100, 100, 200, 200), box(100, 100, 150, 150)  # a diagonal scratch and its first half
    result = consolidate({"a": [whole], "b": [half]})
    assert len(result.boxes) == 2  # IoU 0.25: two clusters, both kept
    boxes, owners = [c.box for c in result.boxes], [c.annotators for c in result.boxes]
    assert [(i, j) for i, j, _ in near_duplicates(boxes, owners=owners)] == [(0, 1)]


def test_crossing_scratches_everyone_drew_are_not_near_duplicates():
    long, short = box(293, 125, 403, 247), box(328, 175, 373, 213)  # the short one lies inside the long one's box
    result = consolidate({"a": [long, short], "b": [long, short], "c": [long, short]})
    boxes, owners = [c.box for c in result.boxes], [c.annotators for c in result.boxes]
    assert near_duplicates(boxes) == [(0, 1, 1.0)]  # by geometry alone they would be
    assert near_duplicates(boxes, owners=owners) == []  # but each annotator drew both


@pytest.mark.parametrize(
    ("a", "b", "pad", "expected"),
    [
        (box(0, 0, 100, 100), box(0, 0, 50, 50), 0, 1.0),  # half a diagonal scratch inside the whole
        (box(0, 0, 100, 4), box(2, 2, 102, 6), 0, 0.49),  # thin and 2 px apart: IoU would be 0.32
        (box(0, 0, 100, 4), box(2, 2, 102, 6), 2, 612 / 832),  # the pad forgives a blurred edge
        (box(0, 0, 100, 4), box(0, 10, 100, 14), 2, 0.0),  # two parallel scratches 6 px apart
        (box(0, 0, 10, 10), box(0, 0, 10, 10, class_id=1), 2, 0.0),  # classes never overlap
    ],
)
def test_intersection_over_smaller(a, b, pad, expected):
    got = intersection_over_smaller([a], [b], pad=pad)
    assert got.shape == (1, 1) and got[0, 0] == pytest.approx(expected, abs=1e-3)
    assert intersection_over_smaller([b], [a], pad=pad)[0, 0] == pytest.approx(got[0, 0])


@pytest.mark.parametrize(
    ("boxes", "pairs"),
    [
        ([], []),
        ([A], []),
        ([A, B, SPURIOUS], []),  # separate defects
        ([A, box(11, 11, 51, 21)], [(0, 1)]),  # one scratch drawn twice
        ([box(0, 0, 100, 100), box(60, 60, 100, 100), box(300, 300, 310, 310)], [(0, 1)]),  # a piece of the first
        ([box(0, 0, 100, 100), box(60, 60, 100, 100, class_id=1)], []),
    ],
)
def test_near_duplicates_table(boxes, pairs):
    found = near_duplicates(boxes)
    assert [(i, j) for i, j, _ in found] == pairs
    assert all(0.7 <= overlap <= 1.0 for *_, overlap in found)


def test_a_cluster_holds_at_most_one_box_per_annotator():
    # annotator a drew the same scratch twice; b and c once: a's second box stays alone.
    annotations = {"a": [A, box(11, 10, 51, 20)], "b": [A], "c": [A]}
    groups = cluster(annotations)
    for group in groups:
        owners = [w for w, _ in group]
        assert len(owners) == len(set(owners))
    assert sorted(len(g) for g in groups) == [1, 3]
    assert len(consolidate(annotations).boxes) == 1


def test_average_linkage_stops_chains():
    # a overlaps b, b overlaps c, but a and c hardly overlap: not one object.
    a, b, c = box(0, 0, 10, 10), box(3, 0, 13, 10), box(6, 0, 16, 10)
    iou_ab = 7 / 13
    assert f1([a], [b]) == 1.0 and f1([a], [c]) == 0.0 and iou_ab > 0.5
    groups = cluster({"x": [a], "y": [b], "z": [c]})
    assert sorted(len(g) for g in groups) == [1, 2]


def test_weights_pull_the_merged_box():
    good, sloppy = box(10, 10, 50, 20), box(14, 12, 56, 23)
    equal = consolidate({"good": [good], "sloppy": [sloppy]})
    trusted = consolidate({"good": [good], "sloppy": [sloppy]}, {"good": 1.0, "sloppy": 0.1})
    assert equal.boxes[0].box.left == pytest.approx(12.0)
    assert trusted.boxes[0].box.left == pytest.approx((10 * 1.0 + 14 * 0.1) / 1.1)
    assert trusted.boxes[0].support == pytest.approx(1.0)


def test_support_is_the_members_share_of_weight():
    result = consolidate({"a": [A], "b": [A], "c": []}, {"a": 0.9, "b": 0.6, "c": 0.3})
    assert result.boxes[0].support == pytest.approx(1.5 / 1.8)
    assert result.boxes[0].box.score == pytest.approx(1.5 / 1.8)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"annotations": {}}, InvalidRecordError),
        ({"annotations": {"a": [A]}, "quorum": 2}, ConfigurationError),
        ({"annotations": {"a": [A]}, "quorum": 0}, ConfigurationError),
        ({"annotations": {"a": [A]}, "iou_threshold": 0}, ConfigurationError),
        ({"annotations": {"a": [A]}, "weights": {"a": -1.0}}, ConfigurationError),
        ({"annotations": {"a": [A]}, "weights": {"a": float("nan")}}, ConfigurationError),
    ],
)
def test_bad_input_is_refused_with_a_hint(kwargs, error):
    with pytest.raises(error) as info:
        consolidate(**kwargs)
    assert info.value.hint


def test_match_pairs_is_one_to_one_best_first():
    near, far = box(10, 10, 50, 21), box(12, 10, 52, 20)
    pairs = match_pairs([A], [far, near])
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]
    assert f1([A, A], [A]) == pytest.approx(2 / 3)
    assert f1([], []) == 1.0 and f1([A], []) == 0.0


# ----------------------------------------------------------------- properties

coordinate = st.integers(min_value=0, max_value=400)
extent = st.integers(min_value=4, max_value=120)
boxes_st = st.lists(
    st.builds(
        lambda x, y, w, h, c: Box(class_id=c, left=x, top=y, width=w, height=h),
        coordinate,
        coordinate,
        extent,
        extent,
        st.integers(0, 1),
    ),
    max_size=6,
)
annotations_st = st.dictionaries(st.sampled_from(["ann", "bob", "cy", "dee", "eve"]), boxes_st, min_size=1)
weights_st = st.fixed_dictionaries({w: st.floats(0.05, 1.0) for w in ["ann", "bob", "cy", "dee", "eve"]})


@settings(max_examples=150, deadline=None)
@given(boxes_st, st.integers(1, 5))
def test_identical_annotations_give_the_same_boxes_and_full_agreement(boxes, n):
    annotators = [f"w{i}" for i in range(n)]
    result = consolidate({w: list(boxes) for w in annotators})
    assert result.agreement == pytest.approx(1.0)
    # every box survives (all n annotators drew it); duplicates within one annotator stay separate boxes
    expected = sorted((*tuple(float(v) for v in b.xyxy), b.class_id) for b in boxes)
    got = sorted((*tuple(c.box.xyxy), c.box.class_id) for c in result.boxes)
    assert len(got) == len(expected)
    for e, g in zip(expected, got, strict=True):
        assert g == pytest.approx(e)
    assert all(c.annotators == tuple(annotators) for c in result.boxes)


@settings(max_examples=150, deadline=None)
@given(annotations_st, weights_st, st.randoms(use_true_random=False))
def test_the_order_of_annotators_and_boxes_does_not_matter(annotations, weights, rnd):
    shuffled_names = list(annotations)
    rnd.shuffle(shuffled_names)
    shuffled = {}
    for name in shuffled_names:
        boxes = list(annotations[name])
        rnd.shuffle(boxes)
        shuffled[name] = boxes
    assert consolidate(shuffled, weights) == consolidate(annotations, weights)


@settings(max_examples=150, deadline=None)
@given(annotations_st, weights_st)
def test_invariants_of_any_consolidation(annotations, weights):
    result = consolidate(annotations, weights)
    assert 0.0 <= result.agreement <= 1.0
    assert result.agreement == pytest.approx(agreement(dict(reversed(list(annotations.items())))))
    for c in result.boxes:
        assert len(c.annotators) >= result.quorum
        assert set(c.annotators) <= set(annotations)
        # the merged box lies within the hull of its members' boxes
        members = [b for w in c.annotators for b in annotations[w] if b.class_id == c.box.class_id]
        assert min(b.left for b in members) - 1e-6 <= c.box.left
        assert c.box.right <= max(b.right for b in members) + 1e-6
        assert 0 < c.support <= 1 and c.box.score == c.support


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 20), st.integers(0, 20), st.floats(0.01, 0.99))
def test_a_lower_weight_pulls_less(dx, dy, low):
    good = box(50, 50, 150, 80)
    sloppy = box(50 + dx, 50 + dy, 150 + dx, 80 + dy)

    def offset(weight):
        (merged,) = consolidate({"good": [good], "sloppy": [sloppy]}, {"good": 1.0, "sloppy": weight}).boxes
        return abs(merged.box.left - good.left) + abs(merged.box.top - good.top)

    if f1([good], [sloppy]) == 1.0:  # only boxes that overlap enough are one cluster
        assert offset(low) <= offset(1.0) + 1e-9
        assert offset(low) < offset(1.0) or dx == dy == 0


def test_a_weighted_vote_keeps_a_reliable_annotators_box_that_another_missed():
    box = Box(class_id=0, left=10, top=10, width=40, height=6)
    elsewhere = Box(class_id=0, left=200, top=150, width=30, height=5)
    drawn = {"careful-1": [box], "careful-2": [], "sloppy": [elsewhere]}
    weights = {"careful-1": 0.95, "careful-2": 0.88, "sloppy": 0.17}
    assert consolidate(drawn, weights).boxes == ()  # one head of three: below the majority
    (kept,) = consolidate(drawn, weights, min_support=0.4).boxes  # 0.95 of 2.0 = 0.475 of the weight
    assert kept.annotators == ("careful-1",) and kept.support == pytest.approx(0.475)
    equal = {"careful-1": 1.0, "careful-2": 1.0, "sloppy": 1.0}
    assert consolidate(drawn, equal, min_support=0.4).boxes == ()  # with equal weights one of three is 0.33


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_min_support_must_be_a_share(bad):
    with pytest.raises(ConfigurationError, match="min_support"):
        consolidate({"a": [], "b": []}, min_support=bad)
