import json
from datetime import datetime, timezone

import pytest

from qiloop.core.errors import FormatError
from qiloop.core.records import Box, LabelSource, LabelStatus
from qiloop.labelstore.formats import groundtruth
from qiloop.labelstore.formats.draft import LabelDraft

T0 = datetime(2022, 7, 7, 12, 34, 56, 789012, tzinfo=timezone.utc)
CLASSES = ["scratch", "dent"]


def draft(boxes=(), **kw):
    fields = dict(
        image_ref="s3://bucket/a.jpg",
        image_width=450,
        image_height=300,
        image_depth=3,
        annotations=tuple(boxes),
        event_time=T0,
        labeling_job="labeling-job/x",
    )
    fields.update(kw)
    return LabelDraft(**fields)


def entry(**over):
    """A documented bounding-box output line, as a dict."""
    line = {
        "source-ref": "s3://bucket/images/IMG_1186.png",
        "bounding-box": {
            "image_size": [{"width": 640, "height": 480, "depth": 3}],
            "annotations": [
                {"class_id": 1, "top": 251, "left": 399, "width": 155, "height": 101},
                {"class_id": 0, "top": 65, "left": 86, "width": 220, "height": 334},
            ],
        },
        "bounding-box-metadata": {
            "objects": [{"confidence": 1}, {"confidence": 0.25}],
            "class-map": {"0": "Echo", "1": "Echo Dot"},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2013-11-18T02:53:27",
            "job-name": "my job",
        },
    }
    line.update(over)
    return line


def lines(*entries):
    return "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in entries)


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
            status=LabelStatus.REJECTED,
            source=LabelSource.MODEL,
            annotators=("w1", "w2"),
            agreement=0.75,
            verifier="v1",
            image_depth=1,
            labeling_job="",
        )
    ],
    "several lines": [draft(), draft(image_ref="b.jpg", event_time=datetime(2020, 1, 1, tzinfo=timezone.utc))],
}


@pytest.mark.parametrize("drafts", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_round_trip_is_lossless(drafts):
    classes = [f"c{i}" for i in range(40)]
    text = groundtruth.dumps(drafts, classes=classes)
    result = groundtruth.loads(text)
    assert result.ok, result.errors
    assert result.drafts == drafts
    assert groundtruth.dumps(result.drafts, classes=classes) == text


def test_documented_line_maps_onto_the_draft():
    (d,) = groundtruth.loads(lines(entry())).drafts
    assert (d.image_ref, d.image_width, d.image_height, d.image_depth) == (
        "s3://bucket/images/IMG_1186.png",
        640,
        480,
        3,
    )
    assert d.annotations == (
        Box(class_id=1, left=399, top=251, width=155, height=101, score=1.0),
        Box(class_id=0, left=86, top=65, width=220, height=334, score=0.25),
    )
    assert d.event_time == datetime(2013, 11, 18, 2, 53, 27, tzinfo=timezone.utc)
    assert (d.labeling_job, d.status, d.source, d.line) == ("my job", LabelStatus.APPROVED, LabelSource.IMPORT, 1)


def test_classes_map_through_the_class_map_by_name():
    (d,) = groundtruth.loads(lines(entry()), classes=["Echo Dot", "Echo"]).drafts
    assert [b.class_id for b in d.annotations] == [0, 1]


def test_attribute_is_detected_and_the_latest_adjustment_wins():
    adjusted = {
        "annotations": [{"class_id": 0, "top": 1, "left": 1, "width": 2, "height": 2}],
        "image_size": [{"width": 640, "height": 480, "depth": 3}],
    }
    meta = {
        "objects": [{"confidence": 0.5}],
        "type": "groundtruth/object-detection",
        "adjustment-status": "adjusted",
        "creation-date": "2014-01-01T00:00:00",
        "job-name": "adjust",
    }
    line = lines(entry(**{"adjusted-boxes": adjusted, "adjusted-boxes-metadata": meta}))
    (d,) = groundtruth.loads(line).drafts
    assert d.labeling_job == "adjust" and len(d.annotations) == 1
    (original,) = groundtruth.loads(line, attribute="bounding-box").drafts
    assert original.labeling_job == "my job" and len(original.annotations) == 2


@pytest.mark.parametrize(("class_name", "status"), [("bad", LabelStatus.REJECTED), ("Good", LabelStatus.APPROVED)])
def test_verification_result_sets_the_status_and_time(class_name, status):
    verify = {
        "class-name": class_name,
        "confidence": 0.93,
        "type": "groundtruth/label-verification",
        "job-name": "verify",
        "human-annotated": "yes",
        "creation-date": "2018-10-18T22:18:13.527256",
    }
    (d,) = groundtruth.loads(lines(entry(**{"verify-bbox": "1", "verify-bbox-metadata": verify}))).drafts
    assert d.status is status
    assert d.event_time == datetime(2018, 10, 18, 22, 18, 13, 527256, tzinfo=timezone.utc)


def test_unknown_verification_class_is_an_error_unless_mapped():
    verify = {
        "class-name": "looks fine",
        "type": "groundtruth/label-verification",
        "creation-date": "2018-10-18T22:18:13",
    }
    text = lines(entry(**{"v": "0", "v-metadata": verify}))
    assert "no verdict maps" in groundtruth.loads(text).errors[0].message
    (d,) = groundtruth.loads(text, verdicts={"looks fine": LabelStatus.APPROVED}).drafts
    assert d.status is LabelStatus.APPROVED


def test_automated_labels_are_model_labels():
    meta = {**entry()["bounding-box-metadata"], "human-annotated": "no"}
    (d,) = groundtruth.loads(lines(entry(**{"bounding-box-metadata": meta}))).drafts
    assert d.source is LabelSource.MODEL


def _without(key, *path):
    e = entry()
    target = e
    for step in path:
        target = target[step]
    del target[key]
    return e


def _meta(**over):
    return entry(**{"bounding-box-metadata": {**entry()["bounding-box-metadata"], **over}})


def _box(**over):
    box = {"class_id": 0, "top": 1, "left": 1, "width": 10, "height": 10, **over}
    return entry(
        **{
            "bounding-box": {"image_size": [{"width": 640, "height": 480}], "annotations": [box]},
            "bounding-box-metadata": {**entry()["bounding-box-metadata"], "objects": []},
        }
    )


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ('{"source-ref": "s3://b/a.jpg", ', "not valid JSON"),
        ("[1, 2]", "must be an object"),
        (_without("source-ref"), "lacks 'source-ref'"),
        ({"source-ref": "s3://b/a.jpg"}, "no bounding-box label attribute"),
        (
            _without("bounding-box")
            | {
                "bounding-box-metadata": {
                    "type": "groundtruth/object-detection",
                    "failure-reason": "ClientError: timeout",
                }
            },
            "ClientError: timeout",
        ),
        (_without("image_size", "bounding-box"), "lacks 'image_size'"),
        (_without("creation-date", "bounding-box-metadata"), "lacks 'creation-date'"),
        (_meta(**{"creation-date": "last tuesday"}), "not an ISO 8601 time"),
        (_meta(objects=[{"confidence": 1}]), "2 annotations but 1 objects"),
        (_meta(objects=[{"confidence": 1}, {"confidence": 7}]), "score"),
        (_box(width=-5), "annotation 0: invalid Box: width"),
        (_box(left="ten"), "annotation 0.left must be a number"),
        (_box(left=635), "outside the 640x480 image"),
        (_box(class_id=1.5), "whole number"),
        (_without("top", "bounding-box", "annotations", 0), "annotation 0 lacks 'top'"),
    ],
)
def test_bad_line_is_reported_with_its_line_and_the_rest_parses(bad, match):
    result = groundtruth.loads(lines(entry(), bad, "", entry()), source="out.manifest")
    assert [d.line for d in result.drafts] == [1, 4]
    assert len(result.errors) == 1
    assert (result.errors[0].source, result.errors[0].line) == ("out.manifest", 2)
    assert match in result.errors[0].message


def test_class_missing_from_the_class_names_is_an_error():
    result = groundtruth.loads(lines(entry()), classes=["Echo"])
    assert result.drafts == [] and "'Echo Dot' in the class-map" in result.errors[0].message


def test_writer_names_the_attribute_and_refuses_unnamed_classes():
    d = draft([Box(class_id=0, left=1, top=1, width=2, height=2, score=0.5)])
    line = json.loads(groundtruth.dumps([d], classes=CLASSES, attribute="scratches"))
    assert line["scratches"]["annotations"] == [{"class_id": 0, "left": 1, "top": 1, "width": 2, "height": 2}]
    meta = line["scratches-metadata"]
    assert meta["class-map"] == {"0": "scratch"} and meta["objects"] == [{"confidence": 0.5}]
    assert meta["creation-date"] == "2022-07-07T12:34:56.789012" and meta["type"] == "groundtruth/object-detection"
    with pytest.raises(FormatError, match=r"class id\(s\) \[2\] have no name"):
        groundtruth.dumps([draft([Box(class_id=2, left=1, top=1, width=2, height=2)])], classes=CLASSES)
