"""`qiloop up` and `qiloop status` refusals that need no running stack: a taken port, a missing home."""

from __future__ import annotations

import socket

import pytest

from qiloop.cli.main import main


def test_a_taken_port_is_refused_before_anything_starts(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        others = ["--without", "dagster", "--without", "mlflow", "--without", "fleet", "--without", "collector"]
        rc = main(["--home", str(tmp_path), "up", "--labeling-port", str(port), *others, "--without", "broker"])
    assert rc == 2
    err = capsys.readouterr().err
    assert f"{port} (labeling)" in err and "--labeling-port" in err
    assert not (tmp_path / "stack" / "logs").exists()  # nothing was started


def test_status_on_a_missing_home_exits_5(tmp_path, capsys):
    assert main(["--home", str(tmp_path / "nowhere"), "status"]) == 5
    assert "no qiloop home" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()


def test_status_of_a_home_without_a_stack(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    assert main(["--home", str(tmp_path), "status", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"running": false' in out and '"images_waiting": 0' in out


@pytest.mark.parametrize("name", ["grafana", "dagster-ui"])
def test_an_unknown_part_is_a_usage_error(tmp_path, name, capsys):
    assert main(["--home", str(tmp_path), "up", "--without", name]) == 2
    assert "no such part" in capsys.readouterr().err
