from datetime import datetime, timedelta, timezone

import pytest

from qiloop.core.errors import InvalidRecordError
from qiloop.core.records import Box
from qiloop.labelstore.formats.draft import LabelDraft

BOX = Box(class_id=0, left=10, top=10, width=20, height=20)


@pytest.mark.parametrize(
    ("size", "boxes", "match"),
    [
        ((0, 300, 3), (), "not positive"),
        ((450, 300, 5), (), "depth 5"),
        ((25, 300, 3), (BOX,), "outside the 25x300 image"),
    ],
)
def test_draft_refuses_what_a_record_would(size, boxes, match):
    with pytest.raises(InvalidRecordError, match=match):
        LabelDraft("a.jpg", *size, boxes, datetime(2022, 1, 1))


def test_draft_is_utc_and_line_is_not_part_of_equality():
    local = datetime(2022, 1, 1, 14, tzinfo=timezone(timedelta(hours=2)))
    a = LabelDraft("a.jpg", 450, 300, 3, [BOX], local, line=3)
    b = LabelDraft("a.jpg", 450, 300, 3, (BOX,), datetime(2022, 1, 1, 12), line=9)
    assert a.event_time.tzinfo is timezone.utc and a.annotations == (BOX,)
    assert a == b
