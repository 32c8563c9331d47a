import json
from datetime import datetime, timezone

import pytest

from qiloop.core.errors import FormatError
from qiloop.core.records import Box, LabelSource, LabelStatus
from qiloop.labelstore.formats import coco
from qiloop.labelstore.formats.draft import LabelDraft

T0 = datetime(2022, 7, 7, 12, 34, 56, 789012, tzinfo=timezone.utc)
CLASSES = [f"c{i}" for i in range(40)]


def draft(boxes=(), **kw):
    fields = dict(
        image_ref="images/a.jpg",
        image_width=450,
        image_height=300,
        image_depth=3,
        annotations=tuple(boxes),
        event_time=T0,
        labeling_job="job",
    )
    return LabelDraft(**(fields | kw))


ROUND_TRIPS = {
    "no boxes (negative)": [draft()],
    "scores None and float": [
        draft(
            [
                Box(class_id=0, left=1, top=2, width=3, height=4),
                Box(class_id=1, left=5, top=6, width=7, height=8, score=0.125),
            ]
        )
    ],
    "non-integer pixels": [draft([Box(class_id=0, left=0.5, top=1.25, width=449.5, height=298.75)])],
    "many classes": [draft([Box(class_id=c, left=c, top=c, width=10, height=10) for c in range(40)])],
    "provenance": [
        draft(
            status=LabelStatus.PENDING_VERIFICATION,
            source=LabelSource.HUMAN,
            annotators=("w1",),
            agreement=0.5,
            verifier="v",
            image_depth=1,
            labeling_job="",
        )
    ],
    "several images": [draft(), draft(image_ref="b.jpg", event_time=datetime(2020, 1, 1, tzinfo=timezone.utc))],
}


@pytest.mark.parametrize("drafts", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_round_trip_is_lossless(drafts):
    text = coco.dumps(drafts, classes=CLASSES)
    result = coco.loads(text)
    assert result.ok, result.errors
    assert result.drafts == drafts
    assert coco.dumps(result.drafts, classes=CLASSES) == text


def test_export_shape():
    doc = json.loads(
        coco.dumps(
            [draft([Box(class_id=1, left=1, top=2, width=3, height=4, score=0.5)]), draft()],
            classes=["scratch", "dent"],
        )
    )
    assert doc["categories"] == [
        {"id": 1, "name": "scratch", "supercategory": "none"},
        {"id": 2, "name": "dent", "supercategory": "none"},
    ]
    assert [(i["id"], i["file_name"], i["width"], i["height"]) for i in doc["images"]] == [
        (1, "images/a.jpg", 450, 300),
        (2, "images/a.jpg", 450, 300),
    ]
    assert doc["annotations"] == [
        {"id": 1, "image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0, "score": 0.5}
    ]
    assert doc["info"]["date_created"] == "2022-07-07T12:34:56.789012+00:00"
    with pytest.raises(FormatError, match=r"class id\(s\) \[1\] have no name"):
        coco.dumps([draft([Box(class_id=1, left=1, top=2, width=3, height=4)])], classes=["scratch"])


def document(images=None, annotations=None, categories=None, **extra):
    doc = {
        "images": images
        if images is not None
        else [
            {"id": 10, "file_name": "a.jpg", "width": 100, "height": 50},
            {"id": 11, "file_name": "b.jpg", "width": 100, "height": 50},
        ],
        "annotations": annotations
        if annotations is not None
        else [
            {"id": 1, "image_id": 10, "category_id": 7, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0},
            {"id": 2, "image_id": 10, "category_id": 3, "bbox": [5.5, 6, 7, 8], "area": 56, "iscrowd": 0},
        ],
        "categories": categories
        if categories is not None
        else [{"id": 7, "name": "dent"}, {"id": 3, "name": "scratch"}],
        "info": {"date_created": "2017/09/01"},
    }
    return json.dumps(doc | extra)


def test_foreign_file_gets_defaults_and_categories_by_id_order():
    result = coco.loads(document())
    assert result.ok, result.errors
    a, b = result.drafts
    assert [bx.class_id for bx in a.annotations] == [1, 0]  # id 3 -> class 0, id 7 -> class 1
    assert a.annotations[1] == Box(class_id=0, left=5.5, top=6, width=7, height=8)
    assert b.annotations == ()  # kept as a negative
    assert (a.event_time, a.status, a.source, a.image_depth) == (
        datetime(2017, 9, 1, tzinfo=timezone.utc),
        LabelStatus.APPROVED,
        LabelSource.IMPORT,
        3,
    )


def test_class_names_map_categories_by_name_and_explicit_time_wins():
    result = coco.loads(document(), classes=["dent", "scratch"], event_time=T0)
    assert [bx.class_id for bx in result.drafts[0].annotations] == [0, 1]
    assert result.drafts[0].event_time == T0


def test_no_time_at_all_is_an_error_per_image():
    doc = json.loads(document())
    del doc["info"]
    result = coco.loads(json.dumps(doc))
    assert result.drafts == [] and [e.line for e in result.errors] == [1, 2]
    assert "no event time" in result.errors[0].message


GOOD = {"id": 1, "file_name": "good.jpg", "width": 100, "height": 50}


def ann(**over):
    return {"id": 9, "image_id": 2, "category_id": 3, "bbox": [1, 1, 10, 10], "iscrowd": 0} | over


@pytest.mark.parametrize(
    ("image", "annotation", "match"),
    [
        ({"id": 2, "file_name": "x.jpg", "height": 50}, ann(), "lacks 'width'"),
        ({"id": 2, "file_name": "", "width": 100, "height": 50}, ann(), "file_name must be"),
        ({"file_name": "x.jpg", "width": 100, "height": 50}, None, "no integer or string id"),
        (None, ann(category_id=99), "unknown category_id 99"),
        (None, ann(bbox=[1, 2, 3]), "bbox must be [x, y, width, height]"),
        (None, ann(bbox=[1, 2, -3, 4]), "width"),
        (None, ann(bbox=[95, 1, 10, 10]), "outside the 100x50 image"),
        (None, ann(bbox=[1, "2", 3, 4]), "bbox must be a number"),
        (None, ann(iscrowd=1), "crowd region"),
        (None, ann(score=1.5), "score"),
    ],
)
def test_bad_image_is_reported_with_its_entry_number_and_the_rest_parses(image, annotation, match):
    image = image or {"id": 2, "file_name": "x.jpg", "width": 100, "height": 50}
    anns = [ann(id=1, image_id=1)] + ([annotation] if annotation else [])
    text = document(images=[GOOD, image], annotations=anns, categories=[{"id": 3, "name": "scratch"}])
    result = coco.loads(text, source="c.json")
    assert [d.image_ref for d in result.drafts] == ["good.jpg"]
    assert len(result.errors) >= 1 and (result.errors[0].source, result.errors[0].line) == ("c.json", 2)
    assert any(match in e.message for e in result.errors), [e.message for e in result.errors]


def test_duplicate_image_ids_and_orphan_annotations_are_errors():
    images = [
        GOOD,
        {"id": 5, "file_name": "x.jpg", "width": 9, "height": 9},
        {"id": 5, "file_name": "y.jpg", "width": 9, "height": 9},
    ]
    anns = [ann(id=1, image_id=1), ann(id=2, image_id=404), "not an object"]
    result = coco.loads(document(images=images, annotations=anns, categories=[{"id": 3, "name": "s"}]))
    assert [d.image_ref for d in result.drafts] == ["good.jpg"]
    assert [e.line for e in result.errors] == [2, 3, 2, 3]
    assert "appears 2 times" in result.errors[0].message
    assert "annotation #2 (id 2): image_id 404 is not in images" in result.errors[2].message
    assert "annotation #3 must be an object" in result.errors[3].message


@pytest.mark.parametrize(
    ("text", "match", "line"),
    [
        ('{"images": [', "not valid JSON", 1),
        ("[]", "the document must be an object", None),
        ('{"categories": []}', "lacks 'images'", None),
        (
            '{"images": [], "categories": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}',
            "category id 1 appears twice",
            None,
        ),
    ],
)
def test_unusable_file_is_one_error(text, match, line):
    result = coco.loads(text)
    assert result.drafts == [] and len(result.errors) == 1
    assert match in result.errors[0].message and result.errors[0].line == line
