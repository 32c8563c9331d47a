"""The data side of the loop through the real ``qiloop`` command, in fresh processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
QILOOP = [sys.executable, "-m", "qiloop.cli.main"]


def qiloop(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qiloop.cli.main", *args, "--home", str(home)]
        if args[0] != "synth"
        else [sys.executable, "-m", "qiloop.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow")
    home, data = root / "home", root / "data"
    done = qiloop(home, "synth", "--n", "24", "--out", str(data), "--seed", "7", "--unlabeled", "3")
    assert done.returncode == 0, done.stderr
    return home, data


def test_ingest_import_query_export(world, tmp_path):
    home, data = world
    ingest = qiloop(home, "images", "ingest", str(data / "images"))
    assert ingest.returncode == 0, ingest.stderr
    imported = qiloop(home, "labels", "import", str(data / "labels.csv"), "--images-root", str(data), "--json")
    assert imported.returncode == 0, imported.stderr
    report = json.loads(imported.stdout)
    assert report["written"] == 21 and report["errors"] == []

    stats = json.loads(qiloop(home, "labels", "stats", "--json").stdout)
    assert stats["records"] == 21

    snap = json.loads(qiloop(home, "labels", "snapshot", "--json").stdout)
    assert len(snap["record_ids"]) == 21 and snap["fingerprint"]
    old = json.loads(qiloop(home, "labels", "snapshot", "--store-version", "0", "--json").stdout)
    assert old["record_ids"] == []

    unlabeled = json.loads(qiloop(home, "images", "ls", "--unlabeled", "--json").stdout)
    assert len(unlabeled) == 3

    listed = json.loads(qiloop(home, "labels", "ls", "--json").stdout)
    sha = listed[0]["image_sha256"]
    history = qiloop(home, "labels", "history", sha, "--json")
    assert history.returncode == 0 and json.loads(history.stdout)[0]["image_sha256"] == sha

    out = tmp_path / "yolo"
    exported = qiloop(home, "labels", "export", "--format", "yolo", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert (out / "data.yaml").is_file() and len(list((out / "labels").rglob("*.txt"))) == 21


def test_bad_rows_are_reported_and_the_rest_imported(world, tmp_path):
    home, data = world
    lines = (data / "labels.csv").read_text().splitlines()
    broken = [*lines[:3], lines[3].replace("APPROVED", "MAYBE"), "not,a,valid,row", *lines[4:6]]
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(broken) + "\n")
    done = qiloop(home / "fresh", "labels", "import", str(bad), "--images-root", str(data), "--json")
    assert done.returncode == 4
    report = json.loads(done.stdout)
    assert report["written"] == 4
    assert any(":4:" in e and "MAYBE" in e for e in report["errors"])
    assert any(":5:" in e for e in report["errors"])


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("labels", "history", "0" * 64), 5, "no label records"),
        (("labels", "ls", "--as-of", "yesterday"), 2, "cannot read the time"),
        (("labels", "ls", "--as-of", "0", "--store-version", "1"), 2, "not both"),
        (("labels", "export", "--format", "pascal", "--out", "x"), 2, "unknown label format"),
        (("labels", "snapshot", "--store-version", "99"), 5, "does not exist"),
        (("images", "show", "f" * 64), 5, "no image"),
        (("labels", "frobnicate"), 2, "No such command"),
    ],
)
def test_errors_have_meaningful_exit_codes(world, args, code, fragment):
    home, _ = world
    done = qiloop(home, *args)
    assert done.returncode == code, done.stderr
    assert fragment in done.stderr


def test_help_explains_every_command():
    for args in [(), ("images",), ("labels",), ("labels", "import"), ("synth",), ("demo",)]:
        done = subprocess.run(
            [sys.executable, "-m", "qiloop.cli.main", *args, "--help"], capture_output=True, text=True
        )
        assert done.returncode == 0 and "Usage" in done.stdout, (args, done.stderr)


@pytest.mark.timeout(1000)  # above the demo subprocess's own 900 s, so that limit ends it and its devices
def test_demo_runs_start_to_finish(tmp_path):
    done = subprocess.run(
        [*QILOOP, "demo", "--n", "80", "--epochs", "1", "--retrain-epochs", "1", "--camera", "8",
         "--home", str(tmp_path / "home"), "--fresh"],
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "point-in-time reads" in done.stdout
    assert "re-import writes 0" in done.stdout
    assert "images without an approved label (next labelling job): 4" in done.stdout
    assert "images labelled (APPROVED)" in done.stdout and "4 of 4" in done.stdout  # bots labelled them
    for step in ("dataset", "train", "export", "evaluate", "gate"):
        assert f"· {step}" in done.stdout
    assert "parity passed" in done.stdout and "the loop, turn by turn" in done.stdout
    assert "turn 1: label what waits" in done.stdout
    if "gate: REFUSED" in done.stdout:  # a one-epoch model the default gate refuses: nothing reaches the line
        assert "nothing will be deployed" in done.stdout and "canary rollout" not in done.stdout
        assert "the loop stops after turn 1" in done.stdout
    else:
        assert "canary rollout of scratch-detector/1" in done.stdout
