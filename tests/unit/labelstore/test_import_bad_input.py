"""An import with bad rows imports the rest in one commit and names each bad row; it never hangs.

Real stores in a temporary folder, a real FIFO and the real ``/dev/zero``, and
the CLI through Typer's runner. A regression that reads ``/dev/zero`` or waits
on the FIFO fails on the timeout instead of hanging the suite.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from qiloop.cli import labels as labels_cli
from qiloop.cli.main import main
from qiloop.labelstore import LabelStore
from qiloop.labelstore.formats import labels_csv
from qiloop.labelstore.importer import import_parsed
from qiloop.storage import ImageStore

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="needs a POSIX system"),
]

BOX = "[{'class_id': %s, 'top': 1, 'left': 1, 'height': 2, 'width': 2}]"


def encode(fmt: str, mode: str, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").convert(mode).save(out, fmt)
    return out.getvalue()


@pytest.fixture
def data(tmp_path) -> Path:
    """labels.csv with two good rows (a BMP and a TIFF) among six bad ones, with their images."""
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "images" / "good.bmp").write_bytes(encode("BMP", "RGB", 1))
    (root / "images" / "good.tif").write_bytes(encode("TIFF", "RGB", 2))
    (root / "images" / "other.png").write_bytes(encode("PNG", "RGB", 3))
    os.mkfifo(root / "images" / "pipe.png")
    (root / "images" / "zero.png").symlink_to("/dev/zero")
    rows = [
        ("images/good.bmp", BOX % 0, "1657199072.0"),  # line 2
        ("/dev/zero", "[]", "1657199072.0"),  # line 3
        ("images/pipe.png", "[]", "1657199072.0"),  # line 4
        ("images/zero.png", "[]", "1657199072.0"),  # line 5
        ("images/other.png", "[]", "1e300"),  # line 6
        ("images/other.png", BOX % 2**40, "1657199072.0"),  # line 7
        ("images/other.png", "[" + " " * 200_000 + "]", "1657199072.0"),  # line 8
        ("images/good.tif", "[]", "1657199073.0"),  # line 9
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(labels_csv.COLUMNS)
    for ref, ann, time in rows:
        writer.writerow([ref, 40, 30, 3, ann, time, "job", "APPROVED"])
    (root / "labels.csv").write_text(out.getvalue(), encoding="utf-8")
    return root


EXPECTED = {
    3: "/dev/zero is not a regular file but a character device",
    4: "is not a regular file but a FIFO",
    5: "is not a regular file but a character device",
    6: "event_time '1e300' is out of range",
    7: "class id 1099511627776, too large for the label store",
    8: "field larger than field limit",
}


def test_bad_rows_are_named_and_the_rest_lands_in_one_commit(tmp_path, data):
    images = ImageStore.from_url(str(tmp_path / "store" / "images"))
    labels = LabelStore.from_url(str(tmp_path / "store" / "labels"))
    report = import_parsed(labels_csv.read(data / "labels.csv"), images, labels, images_root=data)
    assert {e.line: e.message for e in report.errors}.keys() == EXPECTED.keys()
    for error in report.errors:
        assert EXPECTED[error.line] in error.message, error
    assert (report.parsed, report.written, report.images) == (8, 2, 2)
    assert [v.rows_added for v in labels.versions() if v.rows_added] == [2]  # one commit of the valid rows
    assert sorted(images.get(r.image_sha256).format for r in labels.latest()) == ["bmp", "tiff"]


def test_cli_import_lists_each_bad_row_and_exits_4(tmp_path, data):
    app = typer.Typer()
    app.add_typer(labels_cli.app, name="labels")
    result = CliRunner().invoke(app, ["labels", "import", str(data / "labels.csv"), "--home", str(tmp_path / "home")])
    assert result.exit_code == 4, result.output
    assert "2 records written" in result.output
    for line, reason in EXPECTED.items():
        assert f"labels.csv:{line}" in result.output or f":{line}: " in result.output
        assert reason.split(" is ")[-1] in result.output.replace("\n", " ")


def test_file_level_error_writes_nothing_and_exits_4(tmp_path, data, capsys):
    (data / "latin1.csv").write_bytes((data / "labels.csv").read_bytes() + "caf\u00e9".encode("latin-1"))
    home = tmp_path / "home"
    assert main(["labels", "import", str(data / "latin1.csv"), "--home", str(home)]) == 4
    err = " ".join(capsys.readouterr().err.split())
    assert "latin1.csv:10: the file is not UTF-8: byte 0xe9" in err and "save the file as UTF-8" in err
    written = [p for p in home.rglob("*.parquet")] if home.exists() else []
    assert written == []  # refused before any store was written
