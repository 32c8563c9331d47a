"""``KnownTruth``: the synthetic generator's boxes first, else the approved labels, else the default."""

from __future__ import annotations

from qiloop.core.records import Box
from qiloop.sim.truth import KnownTruth

SYNTH = (Box(class_id=0, left=1, top=2, width=3, height=4),)
APPROVED = (Box(class_id=0, left=10, top=20, width=30, height=40),)


def test_synthetic_boxes_win_then_approved_ones_then_the_default():
    truth = KnownTruth({"a": SYNTH}, {"a": APPROVED, "b": APPROVED})
    assert truth.get("a") == SYNTH
    assert truth.get("b") == APPROVED
    assert truth.get("c") == ()
    assert truth.get("c", None) is None
