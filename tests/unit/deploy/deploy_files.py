"""What the deploy/ tests share: where the files are, and a check of the commands they run.

A unit file, a compose service or a Dockerfile that runs ``qiloop WORDS`` is checked against the real
Typer app (every word a command of the group before it, every ``--option`` an option of its command);
any other program must come from an extra that pyproject.toml declares, so ``pip install qiloop[...]``
puts it where the file expects it.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli there
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
VENV_BIN = "/opt/qiloop/venv/bin/"
# Programs other than qiloop that the deploy files run, and the distribution that installs each.
PROGRAMS = {"mlflow": "mlflow", "dagster-webserver": "dagster-webserver", "dagster-daemon": "dagster"}


def extras() -> dict[str, list[str]]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def distributions(extra: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """Distribution names an extra installs, following ``qiloop[other]`` references."""
    found: set[str] = set()
    for dep in extras()[extra]:
        name = re.match(r"[\w.-]+", dep).group().lower()
        if name == "qiloop":
            for inner in re.search(r"\[(.*)\]", dep).group(1).split(","):
                if inner not in seen:
                    found |= distributions(inner.strip(), seen | {extra})
        else:
            found.add(name)
    return found


def qiloop_problems(words: list[str]) -> list[str]:
    """What in ``qiloop WORDS`` the CLI lacks (empty when every command and option exists)."""
    from qiloop.cli.main import app

    command, path, problems, i = typer.main.get_command(app), ["qiloop"], [], 0
    while i < len(words):
        word = words[i]
        if word.startswith("$"):
            i += 1
            continue
        if word.startswith("--"):
            name = word.split("=", 1)[0]
            param = next((p for p in command.params if name in (*p.opts, *getattr(p, "secondary_opts", ()))), None)
            if param is None:
                problems.append(f"`{' '.join(path)}` has no option {name}")
            elif not getattr(param, "is_flag", False) and "=" not in word:
                i += 1
        elif getattr(command, "commands", None):
            if word not in command.commands:
                problems.append(f"`{' '.join(path)}` has no command {word!r}")
                break
            command = command.commands[word]
            path.append(word)
        i += 1
    if getattr(command, "commands", None):
        problems.append(f"`{' '.join(path)}` is a group, not a command")
    return problems


def program_problems(argv: list[str], installed_by: set[str]) -> list[str]:
    """Problems of one command line: an unknown qiloop command, or a program no extra installs."""
    program = argv[0].removeprefix(VENV_BIN)
    if program == "qiloop":
        return qiloop_problems(argv[1:])
    if program not in PROGRAMS:
        return [f"{program} is neither qiloop nor a program the deploy tests know"]
    if PROGRAMS[program] not in installed_by:
        return [f"{program} comes from {PROGRAMS[program]}, which the extras installed here do not declare"]
    if "-m" in argv:
        module = argv[argv.index("-m") + 1]
        source = REPO / "src" / (module.replace(".", "/") + ".py")
        if not source.is_file():
            return [f"{program} loads {module}, which is not in src/"]
    return []
