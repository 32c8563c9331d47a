"""`qiloop evaluate --labels` reads only regular files: /dev/zero or a FIFO is a failed item, not a hang."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from qiloop.core.detections import Detections
from qiloop.labelstore.formats.draft import LabelDraft
from qiloop.training.evaluate import evaluate
from qiloop.training.evaluate_csv import read_local

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="needs a POSIX system"),
]


def test_special_files_are_failed_items_not_a_hang(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    drafts = [LabelDraft(ref, 450, 300, 3, (), when) for ref in ("/dev/zero", str(tmp_path / "pipe.png"))]
    result = evaluate(lambda rgb: Detections.from_boxes([]), drafts, read_local, confidence=0.25)
    assert not result.items
    reasons = [f.reason for f in result.failures]
    assert "character device" in reasons[0] and "FIFO" in reasons[1]
