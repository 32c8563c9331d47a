"""The app configuration: files, key=value overrides, the source union, and errors that name the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qiloop.core.errors import ConfigurationError
from qiloop.edge.inference.config import AppConfig, FilesSourceConfig, FolderSourceConfig
from qiloop.protocol.topics import RESULT_TOPIC

BASE = {"package": "pkg", "device_id": "cam-1", "source": {"type": "folder", "path": "/in"}}


def test_defaults_and_the_source_union():
    cfg = AppConfig.build(BASE)
    assert isinstance(cfg.source, FolderSourceConfig)
    assert (cfg.source.after, cfg.results_topic, cfg.drop_policy, cfg.feedback.enabled) == (
        "move", RESULT_TOPIC, "oldest", True
    )  # fmt: skip
    files = AppConfig.build({**BASE, "source": {"type": "files", "paths": ["a.jpg", "b.jpg"]}})
    assert isinstance(files.source, FilesSourceConfig) and files.source.paths == [Path("a.jpg"), Path("b.jpg")]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_file_is_a_saved_call(tmp_path, suffix):
    doc = {**BASE, "threads": 2, "feedback": {"sample_rate": 0.05, "seed": 7}}
    path = tmp_path / f"app{suffix}"
    path.write_text(json.dumps(doc))  # JSON is YAML too
    cfg = AppConfig.from_file(path)
    assert cfg == AppConfig(**doc)
    assert AppConfig.build(cfg.model_dump()) == cfg  # round trip


def test_dotted_overrides_reach_sections_and_the_chosen_source():
    cfg = AppConfig.from_overrides(
        AppConfig.build(BASE),
        ["feedback.uncertain_low=0.1", "source.poll_s=1.5", "source.after=keep", "defect=0.7", "int8=true"],
    )
    assert (cfg.feedback.uncertain_low, cfg.source.poll_s, cfg.source.after, cfg.defect, cfg.int8) == (
        0.1, 1.5, "keep", 0.7, True
    )  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (["treads=2"], ["unknown key 'treads'", "did you mean 'threads'"]),
        (["feedback.smaple_rate=0.1"], ["unknown key 'feedback.smaple_rate'"]),
        (["source.pol_s=1"], ["source.folder.pol_s"]),  # the chosen member's own check names it
        (["device_id=cam/1"], ["device_id"]),  # would break the topic
        (["feedback.uncertain_low=0.9"], ["uncertain_low"]),  # above uncertain_high
        (["source.after=archive"], ["source.folder.after"]),
        (["threads"], ["not key=value"]),
    ],
)
def test_bad_settings_name_the_key(overrides, words):
    with pytest.raises(ConfigurationError) as err:
        AppConfig.from_overrides(AppConfig.build(BASE), overrides)
    assert all(w in str(err.value) for w in words), str(err.value)
    assert err.value.exit_code == 2


def test_resolve_lays_options_over_the_file(tmp_path):
    path = tmp_path / "app.yaml"
    path.write_text("package: pkg\ndevice_id: cam-1\nsource: {type: folder, path: /in, poll_s: 3}\n")
    same_kind = AppConfig.resolve(path=path, values={"source": {"type": "folder", "path": "/other"}})
    assert (same_kind.source.path, same_kind.source.poll_s) == (Path("/other"), 3.0)  # merged
    other_kind = AppConfig.resolve(path=path, values={"source": {"type": "files", "paths": ["x.jpg"]}})
    assert isinstance(other_kind.source, FilesSourceConfig)  # replaced, no folder keys left over
    cfg = AppConfig.resolve(path=path, values={"device_id": "cam-2"}, overrides=["status_interval_s=5"])
    assert (cfg.device_id, cfg.status_interval_s) == ("cam-2", 5.0)


@pytest.mark.parametrize(
    ("text", "words"),
    [("package: [unclosed", "not valid YAML"), ("- a list", "mapping"), ("package: p\n", "device_id")],
)
def test_bad_files(tmp_path, text, words):
    path = tmp_path / "app.yaml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=words):
        AppConfig.from_file(path)


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(ConfigurationError, match="cannot read the app config"):
        AppConfig.from_file(tmp_path / "nope.yaml")
