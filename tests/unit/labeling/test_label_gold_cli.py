"""`qiloop labeling gold add|ls|retire` on a real home folder: labels.csv or the label store in, the gold set out."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import pytest

from labeling_helpers import add_users, ingest_images, png
from qiloop.cli.main import main
from qiloop.core.errors import ConfigurationError, FormatError, NotFoundError
from qiloop.core.records import Box, LabelRecord, LabelStatus
from qiloop.labeling import jobs, tasks
from qiloop.labeling.db import Database
from qiloop.labelstore import LabelStore
from qiloop.labelstore.formats import labels_csv
from qiloop.labelstore.formats.draft import LabelDraft
from qiloop.settings import Settings
from qiloop.storage import ImageStore

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
SCRATCH = Box.from_xyxy(10, 10, 60, 20)


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # messages on one line each, whatever the terminal


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["labeling", "gold", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def labels_file(folder, count: int, status=LabelStatus.APPROVED):
    """``count`` tag images on disk and a reference-format labels.csv naming them (one box each)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    drafts = []
    for i in range(count):
        (folder / "images" / f"tag-{i}.png").write_bytes(png(i))
        drafts.append(
            LabelDraft(
                image_ref=f"{labels_csv.REFERENCE_PREFIX}images/tag-{i}.png", image_width=96, image_height=64,
                image_depth=3, annotations=(SCRATCH,), event_time=T0,
                status=status if i == count - 1 else LabelStatus.APPROVED,
            )
        )  # fmt: skip
    return labels_csv.write(folder / "labels.csv", drafts)


def test_gold_from_a_labels_csv_needs_its_images_in_the_store(tmp_path, capsys):
    home, data = tmp_path / "home", tmp_path / "data"
    csv = labels_file(data, 4, status=LabelStatus.REJECTED)
    store = ImageStore.from_settings(Settings(home=home))
    ingest_images(store, 2)  # tag-0 and tag-1 only

    code, _, err = run(capsys, "add", csv, "--home", home)
    assert code == NotFoundError.exit_code
    assert "1 gold images are not in the image store" in err and "images/tag-2.png (line 4)" in err
    assert "qiloop images ingest" in err
    assert json.loads(run(capsys, "ls", "--home", home, "--json")[1]) == []  # nothing was added

    ingest_images(store, 2, first_seed=2)
    code, out, _ = run(capsys, "add", csv, "--home", home, "--json")
    assert code == 0
    assert json.loads(out) == {"candidates": 3, "added": 3, "already_gold": 0, "not_approved": 1}
    assert json.loads(run(capsys, "add", csv, "--home", home, "--json")[1])["added"] == 0
    listed = json.loads(run(capsys, "ls", "--home", home, "--json")[1])
    assert [g["sha256"] for g in listed] == [hashlib.sha256(png(i)).hexdigest() for i in range(3)]
    assert {g["uri"] for g in listed} == {store.get(g["sha256"]).uri for g in listed}
    assert all((g["boxes"], g["active"], g["shown"], g["mean_f1"]) == (1, True, 0, None) for g in listed)

    resized = data / "resized.csv"  # the file's size for tag-0 is not the stored image's
    resized.write_text(csv.read_text().replace(",96,64,3,", ",90,64,3,", 1), newline="")
    code, _, err = run(capsys, "add", resized, "--home", home)
    assert code == FormatError.exit_code and "the file says 90x64, the image is 96x64" in err
    moved = labels_file(tmp_path / "moved", 1)
    (moved.parent / "images" / "tag-0.png").unlink()
    code, _, err = run(capsys, "add", moved, "--home", home)
    assert code == FormatError.exit_code and "no image file at" in err and "--images-root" in err
    assert run(capsys, "add", "--home", home)[0] == ConfigurationError.exit_code  # neither a file nor --from-store


def test_gold_from_the_store_ls_with_scores_and_retire(tmp_path, capsys):
    home = tmp_path / "home"
    settings = Settings(home=home)
    store, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    records = ingest_images(store, 5)
    labels.append(
        [
            LabelRecord(
                image_uri=r.uri, image_sha256=r.sha256, image_width=96, image_height=64, image_depth=3,
                annotations=(SCRATCH,), event_time=T0,
                status=LabelStatus.APPROVED if i < 4 else LabelStatus.REJECTED,
            )
            for i, r in enumerate(records)
        ]
    )  # fmt: skip
    approved = sorted(r.sha256 for r in records[:4])

    code, out, _ = run(capsys, "add", "--from-store", "--limit", "2", "--home", home, "--json")
    assert code == 0 and json.loads(out)["added"] == 2
    assert [g["sha256"] for g in json.loads(run(capsys, "ls", "--home", home, "--json")[1])] == approved[:2]
    code, out, _ = run(capsys, "add", "--from-store", "--limit", "5", "--home", home, "--json")
    assert json.loads(out) == {"candidates": 2, "added": 2, "already_gold": 0, "not_approved": 0}
    assert sorted(g["sha256"] for g in json.loads(run(capsys, "ls", "--home", home, "--json")[1])) == approved

    # One worker labels a job whose every task is gold: each gold image is shown once and scored.
    db = Database.from_settings(settings)
    add_users(db, "ann")
    extra = ingest_images(store, 1, first_seed=50)
    with db.session() as session:
        spec = jobs.JobSpec.build(name="gold-run", classes=["scratch"], annotators_per_image=1, gold_every=1)
        jobs.create_job(session, spec, extra)
    first = tasks.next_task(db, "gold-run", "ann")
    tasks.submit(db, first.id, "ann", [SCRATCH])
    second = tasks.next_task(db, "gold-run", "ann")
    tasks.submit(db, second.id, "ann", [])
    shown = {g["sha256"]: g for g in json.loads(run(capsys, "ls", "--home", home, "--json")[1])}
    assert (shown[first.image_sha256]["shown"], shown[first.image_sha256]["mean_f1"]) == (1, 1.0)
    assert (shown[second.image_sha256]["scored"], shown[second.image_sha256]["mean_f1"]) == (1, 0.0)
    table = run(capsys, "ls", "--home", home)[1]
    assert "4 gold images" in table and "1.00" in table and "0.00" in table

    code, out, _ = run(capsys, "retire", first.image_sha256[:12], "--home", home)
    assert code == 0 and "retired" in out
    assert "already retired" in run(capsys, "retire", first.image_sha256, "--home", home)[1]
    assert first.image_sha256 not in {g["sha256"] for g in json.loads(run(capsys, "ls", "--home", home, "--json")[1])}
    everything = json.loads(run(capsys, "ls", "--all", "--home", home, "--json")[1])
    assert [g["active"] for g in everything if g["sha256"] == first.image_sha256] == [False]
    code, _, err = run(capsys, "retire", "abc", "--home", home)
    assert code == NotFoundError.exit_code and "at least 8 characters" in err
    assert run(capsys, "retire", "0" * 64, "--home", home)[0] == NotFoundError.exit_code


def test_gold_from_the_store_refuses_labels_whose_images_are_not_in_the_store(tmp_path, capsys):
    home = tmp_path / "home"
    other = ImageStore.from_url(str(tmp_path / "elsewhere"))
    (record,) = ingest_images(other, 1)
    LabelStore.from_settings(Settings(home=home)).append(
        [
            LabelRecord(
                image_uri=record.uri, image_sha256=record.sha256, image_width=96, image_height=64, image_depth=3,
                annotations=(SCRATCH,), event_time=T0,
            )
        ]
    )  # fmt: skip
    code, _, err = run(capsys, "add", "--from-store", "--home", home)
    assert code == NotFoundError.exit_code and "not in the image store" in err and record.sha256[:16] in err
