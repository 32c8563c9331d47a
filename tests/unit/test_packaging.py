"""What ``pip install 'qiloop[edge]'`` pulls in, read from the metadata (nothing is installed here).

A device gets ONNX Runtime, NumPy, Pillow, paho-mqtt and cryptography on top of the base
(DESIGN.md); the command line's frameworks come only with the cloud extras, through ``qiloop[cli]``.
"""

from __future__ import annotations

import contextlib
import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli there
    import tomli as tomllib

PROJECT = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
# What the device must never get, directly or through any dependency: the CLI's frameworks and the heavy ones
# (the camera extra brings OpenCV's headless build, never the one with a GUI).
NOT_ON_A_DEVICE = {"typer", "rich", "click", "pydantic-settings", "sympy", "torch", "ultralytics", "mlflow",
                   "dagster", "fastapi", "sqlalchemy", "opencv-python"}  # fmt: skip
DEVICE_ONLY = {"edge", "camera"}  # extras that make a device install, without the command line's frameworks
TOOLING = {"dev"}


def requirements(extras: set[str]) -> list[Requirement]:
    """The base's and ``extras``' requirements, ``qiloop[...]`` references followed, qiloop itself left out."""
    found, todo, seen = list(map(Requirement, PROJECT["dependencies"])), list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for req in map(Requirement, PROJECT["optional-dependencies"][extra]):
            if canonicalize_name(req.name) == "qiloop":
                todo.extend(req.extras)
            else:
                found.append(req)
    return found


def closure(reqs: list[Requirement]) -> set[str]:
    """Every distribution ``reqs`` install, walking the installed distributions' own metadata (their extras off)."""
    names, todo = set(), list(reqs)
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in names or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        names.add(name)
        # One not installed here (opencv for the camera) has its name checked; its dependencies cannot be.
        with contextlib.suppress(metadata.PackageNotFoundError):
            todo.extend(Requirement(r) for r in metadata.requires(name) or [])
    return names


def test_the_edge_install_names_no_cli_framework_directly():
    direct = {canonicalize_name(r.name) for r in requirements({"edge"})}
    assert direct == {"numpy", "pydantic", "tenacity", "onnxruntime", "pillow", "paho-mqtt", "cryptography", "pyyaml"}


def test_nothing_in_the_edge_install_pulls_in_a_cli_or_heavy_framework():
    for extras in ({"edge"}, {"edge", "camera"}):
        installed = closure(requirements(extras))
        assert {"onnxruntime", "numpy", "pillow", "paho-mqtt", "cryptography"} <= installed
        assert installed & NOT_ON_A_DEVICE == set(), f"qiloop[{','.join(sorted(extras))}] pulls in these"


def test_onnx_runtime_is_held_below_the_release_that_grew_the_install():
    (runtime,) = [r for r in requirements({"edge"}) if r.name == "onnxruntime"]
    assert "1.26.0" in runtime.specifier and "1.27.0" not in runtime.specifier and "1.32.0" not in runtime.specifier


def test_every_cloud_extra_brings_the_whole_command_line():
    cli = {canonicalize_name(r.name) for r in map(Requirement, PROJECT["optional-dependencies"]["cli"])}
    assert cli == {"typer", "rich", "pydantic-settings"}
    for extra in set(PROJECT["optional-dependencies"]) - DEVICE_ONLY - TOOLING - {"cli"}:
        names = {canonicalize_name(r.name) for r in requirements({extra})}
        assert cli <= names, f"qiloop[{extra}] lacks the command line's {sorted(cli - names)}"


def test_the_command_falls_back_to_the_device_commands_only_without_the_cli_extra():
    from qiloop.cli.entry import has_cli_frameworks

    assert PROJECT["scripts"]["qiloop"] == "qiloop.cli.entry:main"
    source = Path(has_cli_frameworks.__code__.co_filename).read_text()
    modules = set(re.search(r"for name in \(([^)]*)\)", source).group(1).replace('"', "").replace(" ", "").split(","))
    cli = {
        canonicalize_name(r.name).replace("-", "_") for r in map(Requirement, PROJECT["optional-dependencies"]["cli"])
    }
    assert modules - {""} == cli
    assert has_cli_frameworks()  # this environment has the cli extra
