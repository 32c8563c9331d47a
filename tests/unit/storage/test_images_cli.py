"""`qiloop images ...` through Typer's test runner, on a real store in a temporary home."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from qiloop.cli import images as images_cli
from qiloop.core.errors import NotFoundError

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(images_cli.app, name="images")
    return root


@pytest.fixture
def src(tmp_path, images):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "p1-cropped-left-top.jpg").write_bytes(images.jpeg(seed=1))
    (folder / "p1-cropped-left-bottom.jpg_2").write_bytes(images.png(seed=2))
    return folder


def invoke(app, *args):
    return runner.invoke(app, ["images", *map(str, args)])


def test_ingest_reports_counts_and_rejections_with_exit_code_4(app, tmp_path, src):
    (src / "bad.jpg").write_bytes(b"GIF89a" + bytes(32))
    result = invoke(app, "ingest", src, "--home", tmp_path / "home")
    assert result.exit_code == 4, result.output
    assert "2 added, 0 duplicate, 1 rejected" in result.output
    assert "bad.jpg" in result.output and "GIF" in result.output


def test_ingest_twice_is_all_duplicates_and_exit_code_0(app, tmp_path, src):
    home = tmp_path / "home"
    assert invoke(app, "ingest", src, "--home", home).exit_code == 0
    result = invoke(app, "ingest", src, "--home", home, "--source", "camera:4", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (len(payload["added"]), len(payload["duplicates"]), payload["rejected"]) == (0, 2, [])


def test_ls_table_json_limit_and_source(app, tmp_path, src, images):
    home = tmp_path / "home"
    invoke(app, "ingest", src, "--home", home)
    (tmp_path / "cam").mkdir()
    (tmp_path / "cam" / "frame.jpg").write_bytes(images.jpeg(seed=3))
    invoke(app, "ingest", tmp_path / "cam", "--home", home, "--source", "camera:1")

    table = invoke(app, "ls", "--home", home)
    assert table.exit_code == 0, table.output
    assert "3 image(s)" in table.output and "jpeg" in table.output and "png" in table.output

    listed = json.loads(invoke(app, "ls", "--home", home, "--json").stdout)
    assert [r["original_name"] for r in listed] == [
        "p1-cropped-left-bottom.jpg_2",
        "p1-cropped-left-top.jpg",
        "frame.jpg",
    ]
    assert {r["group"] for r in listed[:2]} == {"p1"}
    assert len(json.loads(invoke(app, "ls", "--home", home, "--json", "--limit", "1").stdout)) == 1
    cams = json.loads(invoke(app, "ls", "--home", home, "--json", "--source", "camera").stdout)
    assert [r["source"] for r in cams] == ["camera:1"]


def test_show_by_prefix_and_unknown(app, tmp_path, src):
    home = tmp_path / "home"
    invoke(app, "ingest", src, "--home", home)
    record = json.loads(invoke(app, "ls", "--home", home, "--json").stdout)[0]
    shown = invoke(app, "show", record["sha256"][:10], "--home", home, "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == record
    text = invoke(app, "show", record["sha256"], "--home", home)
    assert record["sha256"] in text.output and "450" not in text.output and "64" in text.output
    missing = invoke(app, "show", "f" * 64, "--home", home)
    assert isinstance(missing.exception, NotFoundError)
    assert missing.exception.exit_code == 5


def test_ls_unlabeled_leaves_out_images_with_an_approved_label(app, tmp_path, src):
    labelstore = pytest.importorskip("qiloop.labelstore", reason="the label store package is not installed")
    from datetime import datetime, timezone

    from qiloop.core.records import LabelRecord, LabelStatus
    from qiloop.settings import Settings

    home = tmp_path / "home"
    invoke(app, "ingest", src, "--home", home)
    first, second = json.loads(invoke(app, "ls", "--home", home, "--json").stdout)
    labels = labelstore.LabelStore.from_settings(Settings(home=home))
    when = datetime(2024, 1, 1, tzinfo=timezone.utc)

    def label(image: dict, status: LabelStatus) -> LabelRecord:
        return LabelRecord(
            image_uri=image["uri"],
            image_sha256=image["sha256"],
            image_width=image["width"],
            image_height=image["height"],
            image_depth=image["depth"],
            event_time=when,
            status=status,
        )

    labels.append([label(first, LabelStatus.APPROVED), label(second, LabelStatus.PENDING_VERIFICATION)])
    result = invoke(app, "ls", "--unlabeled", "--home", home, "--json")
    assert result.exit_code == 0, result.output
    assert [r["sha256"] for r in json.loads(result.stdout)] == [second["sha256"]]
