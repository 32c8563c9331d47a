"""``qiloop labels history`` finds an image by sha256, store URI, file path or stored file name."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from qiloop.cli.main import main


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A home with 4 labelled synthetic images, and a fifth, unlabelled, that shares a name with one of them."""
    root = tmp_path_factory.mktemp("history")
    home, data = root / "home", root / "data"
    assert main(["synth", "--n", "4", "--out", str(data), "--seed", "3"]) == 0
    assert main(["labels", "import", str(data / "labels.csv"), "--images-root", str(data), "--home", str(home)]) == 0
    first, second = sorted((data / "images").rglob("*.jpg"))[:2]
    twin = root / "other" / first.name  # same name as `first`, the bytes of `second`
    twin.parent.mkdir()
    shutil.copyfile(second, twin)
    twin.write_bytes(twin.read_bytes() + b"\0")  # a different image under the same name
    assert main(["images", "ingest", str(twin), "--home", str(home)]) == 0
    return home, first, second, twin


def history(capsys, home, image):
    code = main(["labels", "history", str(image), "--home", str(home), "--json"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_by_path_name_and_sha256_give_the_same_records(world, capsys):
    home, _, second, _ = world
    sha = hashlib.sha256(second.read_bytes()).hexdigest()
    code, out, err = history(capsys, home, sha)
    assert code == 0, err
    by_sha = json.loads(out)
    assert by_sha and {r["image_sha256"] for r in by_sha} == {sha}
    for name in (second, second.name):
        code, out, err = history(capsys, home, name)
        assert code == 0, err
        assert json.loads(out) == by_sha


def test_a_shared_name_lists_the_matches(world, capsys):
    home, first, _, twin = world
    code, _, err = history(capsys, home, first.name)
    assert code == 2
    for path in (first, twin):
        assert hashlib.sha256(path.read_bytes()).hexdigest() in " ".join(err.split())
    code, out, _ = history(capsys, home, first)  # the path says which one
    assert code == 0 and json.loads(out)[0]["image_sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()


def test_unknown_names_and_unlabelled_files_are_not_found(world, capsys, tmp_path):
    home, _, _, twin = world
    code, _, err = history(capsys, home, "no-such-image.png")
    assert code == 5 and "no image named 'no-such-image.png'" in err
    code, _, err = history(capsys, home, twin)  # stored, but never labelled
    assert code == 5 and "no label records" in err and hashlib.sha256(twin.read_bytes()).hexdigest() in err
    folder = tmp_path / "a-folder"
    folder.mkdir()
    code, _, err = history(capsys, home, folder)
    assert code == 2 and "is a folder" in err
