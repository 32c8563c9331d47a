"""A file's path under ``qiloop/cli`` is its command's path, and every command's ``--help`` works.

The rule: ``qiloop labeling jobs create`` lives in the deepest module along
``cli/labeling/jobs/create.py`` that exists: there, or in ``cli/labeling/jobs.py``
when a group fits one module. A group is either one module holding its commands, or
a package whose ``__init__.py`` holds only its ``app`` and registers modules named for
its commands and subgroups. Dashes become underscores and Python keywords gain one
(``labels import`` is ``cli/labels/import_.py``). Modules that hold no command start
with ``_`` (what a package's commands share), or are the entry point and the helpers
named in ``HELPERS``.
"""

from __future__ import annotations

import importlib
import keyword
from pathlib import Path

import pytest
import typer
import typer.main

import qiloop.cli
from qiloop.cli.main import app

CLI = Path(qiloop.cli.__file__).parent
HELPERS = {"entry", "main", "common", "home", "demo_report"}  # the entry points, what commands share, the demo's tables


def python_name(name: str) -> str:
    """A command name as a module name: ``add-key`` is ``add_key``, ``import`` is ``import_``."""
    name = name.replace("-", "_")
    return f"{name}_" if keyword.iskeyword(name) else name


def module_at(path: tuple[str, ...]) -> str | None:
    """The dotted name of the module or package at a command path, or None when no file is there."""
    folder = CLI.joinpath(*map(python_name, path))
    if (folder / "__init__.py").is_file() or folder.with_suffix(".py").is_file():
        return ".".join(["qiloop.cli", *map(python_name, path)])
    return None


def is_package(module: str) -> bool:
    return CLI.joinpath(*module.split(".")[2:], "__init__.py").is_file()


def walk(group: typer.Typer, prefix: tuple[str, ...] = ()):
    """Every visible command and group of the app: ``(path, "command", callback)`` or ``(path, "group", Typer)``."""
    for command in group.registered_commands:
        yield (*prefix, command.name or command.callback.__name__), "command", command.callback
    for sub in group.registered_groups:
        if sub.hidden:  # an alias of a visible group (test_hidden_groups_are_aliases)
            continue
        path = (*prefix, sub.name)
        yield path, "group", sub.typer_instance
        yield from walk(sub.typer_instance, path)


ENTRIES = list(walk(app))
COMMANDS = [(path, callback) for path, kind, callback in ENTRIES if kind == "command"]
GROUPS = [(path, group) for path, kind, group in ENTRIES if kind == "group"]


def test_the_walk_sees_the_whole_tree():
    paths = {" ".join(path) for path, _ in COMMANDS}
    assert {"train", "labeling jobs create", "fleet add-key", "labels import", "fleet alerts check"} <= paths
    assert len(COMMANDS) > 60, f"the walk found only {len(COMMANDS)} commands"


@pytest.mark.parametrize(("path", "callback"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_a_command_lives_in_the_deepest_module_along_its_path(path, callback):
    modules = [m for m in (module_at(path[:k]) for k in range(1, len(path) + 1)) if m is not None]
    assert modules, f"qiloop {' '.join(path)}: no module at cli/{python_name(path[0])}.py or cli/{path[0]}/"
    expected = modules[-1]
    assert callback.__module__ == expected, (
        f"qiloop {' '.join(path)} is defined in {callback.__module__}: move it to {expected} "
        f"(or to the module named for the command inside that package)"
    )
    assert not is_package(expected), (
        f"qiloop {' '.join(path)} is defined in the package {expected}/__init__.py: a package holds only its app; "
        f"give the command its own module {expected}.{python_name(path[-1])}"
    )


@pytest.mark.parametrize(("path", "group"), GROUPS, ids=[" ".join(p) for p, _ in GROUPS])
def test_a_group_is_the_app_of_the_module_at_its_path(path, group):
    module = module_at(path)
    assert module is not None, f"qiloop {' '.join(path)}: no cli/{'/'.join(map(python_name, path))}(.py|/)"
    assert getattr(importlib.import_module(module), "app", None) is group, (
        f"qiloop {' '.join(path)} is not {module}.app"
    )
    if group.registered_callback is not None:  # a group that runs without a subcommand (fleet alerts)
        assert group.registered_callback.callback.__module__ == module


def test_every_module_is_a_command_path_or_a_helper():
    known = {module_at(path) for path, _, _ in ENTRIES}
    strays = []
    for file in sorted(CLI.rglob("*.py")):
        parts = file.relative_to(CLI).with_suffix("").parts
        if parts == ("__init__",) or (parts[-1].startswith("_") and parts[-1] != "__init__"):
            continue
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if len(parts) == 1 and parts[0] in HELPERS:
            continue
        if ".".join(["qiloop.cli", *parts]) not in known:
            strays.append(str(file.relative_to(CLI)))
    assert strays == [], (
        f"modules at no command's path: {strays}; name a module for its command "
        "(or start a helper's name with _ and keep commands out of it)"
    )


def test_helpers_hold_no_commands():
    helpers = {f"qiloop.cli.{name}" for name in HELPERS}
    misplaced = [
        " ".join(path)
        for path, callback in COMMANDS
        if callback.__module__ in helpers or callback.__module__.rsplit(".", 1)[-1].startswith("_")
    ]
    assert misplaced == []


def test_hidden_groups_are_aliases_of_visible_ones():
    visible = {id(sub.typer_instance) for sub in app.registered_groups if not sub.hidden}
    hidden = [sub.name for sub in app.registered_groups if sub.hidden]
    assert hidden == ["label"]
    assert all(id(sub.typer_instance) in visible for sub in app.registered_groups if sub.hidden)


def _click_tree(command, path=()):
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _click_tree(sub, (*path, name))


ROOT = typer.main.get_command(app)  # built once: building the tree is most of the cost of one --help
HELP_PATHS = list(_click_tree(ROOT))


@pytest.mark.parametrize("path", HELP_PATHS, ids=[" ".join(p) or "qiloop" for p in HELP_PATHS])
def test_help_of_every_command_exits_0(path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code = ROOT.main(args=[*path, "--help"], prog_name="qiloop", standalone_mode=False)
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"Usage: qiloop {' '.join(path)}".rstrip() in out
