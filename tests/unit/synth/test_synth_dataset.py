import hashlib
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from qiloop.core.errors import ConfigurationError
from qiloop.labelstore.formats import labels_csv
from qiloop.synth import generate_dataset, parse_size


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "ds"
    return generate_dataset(out, 14, seed=7, unlabeled=3)


def test_counts_folders_and_labels(made):
    assert made.images == 14 and made.photos == 4 and made.good + made.bad == 14
    assert made.labeled == 11 and made.unlabeled == 3
    assert sorted(p.parent.name for p in made.paths) == sorted(["good"] * made.good + ["bad"] * made.bad)
    parsed = labels_csv.read(made.labels_csv)
    assert parsed.ok, parsed.errors
    assert len(parsed.drafts) == 11 and sum(len(d.annotations) for d in parsed.drafts) <= made.boxes
    for d in parsed.drafts:
        path = Path(labels_csv.map_prefix(d.image_ref, labels_csv.REFERENCE_PREFIX, made.out))
        assert path in made.paths
        assert path.parent.name == ("bad" if d.annotations else "good")
        assert (d.image_width, d.image_height, d.image_depth) == (450, 300, 3)
        assert d.labeling_job == "labeling-job/synthetic-7" and d.status.value == "APPROVED"
        assert all(b.fits(450, 300) for b in d.annotations)
    unlabelled = set(made.paths) - {
        Path(labels_csv.map_prefix(d.image_ref, labels_csv.REFERENCE_PREFIX, made.out)) for d in parsed.drafts
    }
    assert len(unlabelled) == 3


def test_images_are_jpegs_of_the_asked_size(made):
    for path in made.paths:
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.size == (450, 300) and image.mode == "RGB"
            image.load()


def test_each_photo_gives_four_crops_sharing_a_group_name(made):
    groups = Counter(p.name.split("-cropped")[0] for p in made.paths)
    assert list(groups.values()) == [4, 4, 4, 2]  # 14 images: the last photo truncated
    assert {p.name.split("-cropped-")[1] for p in made.paths if p.name.startswith("synth-7-00000")} == {
        "left-top.jpg",
        "right-top.jpg",
        "left-bottom.jpg",
        "right-bottom.jpg",
    }


def test_the_same_seed_gives_identical_bytes_and_another_seed_differs(made, tmp_path):
    again = generate_dataset(tmp_path / "again", 14, seed=7, unlabeled=3)
    assert digest(again.out) == digest(made.out)
    other = generate_dataset(tmp_path / "other", 14, seed=8, unlabeled=3)
    theirs = {k.replace("synth-8-", "synth-7-"): v for k, v in digest(other.out).items()}
    assert not set(theirs.items()) & set(digest(made.out).items())


def test_image_i_does_not_depend_on_how_many_are_made(made, tmp_path):
    fewer = generate_dataset(tmp_path / "fewer", 6, seed=7)
    ours = digest(made.out)
    for path in fewer.paths:
        rel = str(path.relative_to(fewer.out))
        assert ours[rel] == hashlib.sha256(path.read_bytes()).hexdigest()
    rows = {d.image_ref: d.annotations for d in labels_csv.read(fewer.labels_csv).drafts}
    for d in labels_csv.read(made.labels_csv).drafts:
        if d.image_ref in rows:
            assert rows[d.image_ref] == d.annotations


def test_event_times_are_fixed_by_index(made):
    times = sorted(d.event_time.timestamp() for d in labels_csv.read(made.labels_csv).drafts)
    assert times[0] >= 1_700_000_000 and times[-1] <= 1_700_000_013 and len(set(times)) == 11


def test_a_non_empty_folder_is_refused_unless_overwrite(made, tmp_path):
    target = tmp_path / "ds"
    generate_dataset(target, 8, seed=1)
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigurationError, match="not empty"):
        generate_dataset(target, 4, seed=1)
    report = generate_dataset(target, 4, seed=2, overwrite=True)
    jpgs = sorted((target / "images").rglob("*.jpg"))
    assert jpgs == sorted(report.paths) and (target / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, "at least 1"),
        ({"n": 4, "unlabeled": 5}, "unlabelled"),
        ({"n": 4, "seed": -1}, "negative"),
        ({"n": 4, "size": (32, 20)}, "too small"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, kwargs, match):
    with pytest.raises(ConfigurationError, match=match) as info:
        generate_dataset(tmp_path / "x", **kwargs)
    assert info.value.hint and not (tmp_path / "x").exists()


@pytest.mark.parametrize(("text", "size"), [("450x300", (450, 300)), (" 640 X 480 ", (640, 480))])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["450", "450x", "ax300", "450x300x3", "-450x300"])
def test_parse_size_refuses_anything_else(text):
    with pytest.raises(ConfigurationError, match="WIDTHxHEIGHT"):
        parse_size(text)
