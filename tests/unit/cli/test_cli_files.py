"""Files the user names: missing, a folder, a device or unreadable give a clear message and exit code, no traceback."""

from __future__ import annotations

import errno
import os

import pytest

from qiloop.cli.main import file_error, main
from qiloop.core.errors import ConfigurationError, NotFoundError, QiloopError


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return str(path)


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("labels", "import", "{tmp}/missing.csv"), 5, "no label file at {tmp}/missing.csv"),
        (("labels", "import", "/dev/zero"), 2, "/dev/zero is not a regular file"),
        (("images", "ingest", "{tmp}/missing"), 5, "no image file or folder at {tmp}/missing"),
        (("train", "--config", "{tmp}/train.yaml", "--print-config"), 5, "no training config at {tmp}/train.yaml"),
        (("train", "--config", "{tmp}", "--print-config"), 2, "is a folder, not a training config"),
        (("labeling", "jobs", "create", "j", "--image", "0", "--instructions-file", "{tmp}"), 2, "is a folder"),
        (
            ("evaluate", "--model", "{tmp}", "--labels", "{tmp}/labels.csv", "--images-root", "{tmp}"),
            5,
            "no labels.csv file at {tmp}/labels.csv",
        ),
    ],
)
def test_bad_paths_exit_with_a_message(tmp_path, home, capsys, args, code, fragment):
    argv = [a.format(tmp=tmp_path) for a in args]
    assert main([*argv, "--home", home]) == code
    err = " ".join(capsys.readouterr().err.split())
    assert fragment.format(tmp=tmp_path) in err and "Traceback" not in err


def test_a_missing_ingest_path_stores_nothing(tmp_path, home, capsys):
    from PIL import Image

    good = tmp_path / "good.png"
    Image.new("RGB", (8, 8)).save(good)
    assert main(["images", "ingest", str(good), str(tmp_path / "typo"), "--home", home]) == 5
    assert not (tmp_path / "home" / "images").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_a_usage_error(tmp_path, home, capsys):
    path = tmp_path / "labels.csv"
    path.write_text("source_ref\n")
    path.chmod(0)
    assert main(["labels", "import", str(path), "--format", "labels-csv", "--home", home]) == 2
    assert "Permission denied" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        (errno.ENOENT, NotFoundError),
        (errno.EACCES, ConfigurationError),
        (errno.EISDIR, ConfigurationError),
        (errno.ENOTDIR, ConfigurationError),
        (errno.ENAMETOOLONG, ConfigurationError),
        (errno.EIO, QiloopError),
    ],
)
def test_os_errors_about_a_file_become_qiloop_errors(number, kind):
    error = file_error(OSError(number, os.strerror(number), "/data/x.csv"))
    assert type(error) is kind and error.message == f"/data/x.csv: {os.strerror(number)}" and error.hint


def test_os_errors_without_a_file_name_are_not_translated():
    assert file_error(OSError(errno.EIO, "I/O error")) is None
    assert file_error(ConnectionResetError(errno.ECONNRESET, "reset")) is None
